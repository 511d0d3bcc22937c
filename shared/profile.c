/*
 * The hash profiles there are, by name (profile.h).
 */
#include <string.h>

#include "profile.h"

static const hkp_profile_t *const profiles[] = {
    &hkp_profile_sks,
    &hkp_profile_hockeypuck,
};

#define NPROFILES  (sizeof(profiles) / sizeof(profiles[0]))

const hkp_profile_t *
hkp_profile_find(const char *name)
{
    for (size_t i = 0; i < NPROFILES; i++)
        if (strcmp(profiles[i]->name, name) == 0)
            return profiles[i];
    return NULL;
}

_Static_assert(NPROFILES == HKP_PROFILE_MAX, "HKP_PROFILE_MAX");

size_t
hkp_profile_count(void)
{
    return NPROFILES;
}

const hkp_profile_t *
hkp_profile_at(size_t i)
{
    return i < NPROFILES ? profiles[i] : NULL;
}

const char *
hkp_profile_names(void)
{
    return "sks,hockeypuck";
}
