/* kern_simd_cases.h — register-block cases for kern_simd.h's switch
 * (one per rows x vectors shape up to KS_MR x KS_NV); generated list. */
#if 1 <= KS_MR && 1 <= KS_NV
KS_CASE(1, 1)
#endif
#if 1 <= KS_MR && 2 <= KS_NV
KS_CASE(1, 2)
#endif
#if 1 <= KS_MR && 3 <= KS_NV
KS_CASE(1, 3)
#endif
#if 1 <= KS_MR && 4 <= KS_NV
KS_CASE(1, 4)
#endif
#if 2 <= KS_MR && 1 <= KS_NV
KS_CASE(2, 1)
#endif
#if 2 <= KS_MR && 2 <= KS_NV
KS_CASE(2, 2)
#endif
#if 2 <= KS_MR && 3 <= KS_NV
KS_CASE(2, 3)
#endif
#if 2 <= KS_MR && 4 <= KS_NV
KS_CASE(2, 4)
#endif
#if 3 <= KS_MR && 1 <= KS_NV
KS_CASE(3, 1)
#endif
#if 3 <= KS_MR && 2 <= KS_NV
KS_CASE(3, 2)
#endif
#if 3 <= KS_MR && 3 <= KS_NV
KS_CASE(3, 3)
#endif
#if 3 <= KS_MR && 4 <= KS_NV
KS_CASE(3, 4)
#endif
#if 4 <= KS_MR && 1 <= KS_NV
KS_CASE(4, 1)
#endif
#if 4 <= KS_MR && 2 <= KS_NV
KS_CASE(4, 2)
#endif
#if 4 <= KS_MR && 3 <= KS_NV
KS_CASE(4, 3)
#endif
#if 4 <= KS_MR && 4 <= KS_NV
KS_CASE(4, 4)
#endif
#if 5 <= KS_MR && 1 <= KS_NV
KS_CASE(5, 1)
#endif
#if 5 <= KS_MR && 2 <= KS_NV
KS_CASE(5, 2)
#endif
#if 5 <= KS_MR && 3 <= KS_NV
KS_CASE(5, 3)
#endif
#if 5 <= KS_MR && 4 <= KS_NV
KS_CASE(5, 4)
#endif
#if 6 <= KS_MR && 1 <= KS_NV
KS_CASE(6, 1)
#endif
#if 6 <= KS_MR && 2 <= KS_NV
KS_CASE(6, 2)
#endif
#if 6 <= KS_MR && 3 <= KS_NV
KS_CASE(6, 3)
#endif
#if 6 <= KS_MR && 4 <= KS_NV
KS_CASE(6, 4)
#endif
#if 7 <= KS_MR && 1 <= KS_NV
KS_CASE(7, 1)
#endif
#if 7 <= KS_MR && 2 <= KS_NV
KS_CASE(7, 2)
#endif
#if 7 <= KS_MR && 3 <= KS_NV
KS_CASE(7, 3)
#endif
#if 7 <= KS_MR && 4 <= KS_NV
KS_CASE(7, 4)
#endif
#if 8 <= KS_MR && 1 <= KS_NV
KS_CASE(8, 1)
#endif
#if 8 <= KS_MR && 2 <= KS_NV
KS_CASE(8, 2)
#endif
#if 8 <= KS_MR && 3 <= KS_NV
KS_CASE(8, 3)
#endif
#if 8 <= KS_MR && 4 <= KS_NV
KS_CASE(8, 4)
#endif
