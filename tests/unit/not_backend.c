/* SPDX-License-Identifier: MIT */
/* A shared object named like a backend module that is not one: it lacks
 * qnt_backend_entry. qnt_backend_load() must refuse it with QNT_E_BACKEND. */
__attribute__((visibility("default"))) int qnt_test_not_a_backend(void);

__attribute__((visibility("default"))) int qnt_test_not_a_backend(void)
{
	return 42;
}
