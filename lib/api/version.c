/* SPDX-License-Identifier: MIT */
#include "qnt_internal.h"

QNT_API uint32_t qnt_version_number(void)
{
	return QNT_VERSION_NUMBER;
}

QNT_API const char *qnt_version_string(void)
{
	return QNT_VERSION_STRING;
}

QNT_API uint32_t qnt_format_version(void)
{
	return QNT_FORMAT_VERSION;
}
