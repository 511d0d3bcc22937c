/*
 * hkp_strerror() and the classes of the error codes (hkp_error.h).
 */
#include <lmdb.h>

#include "hkp_error.h"

const char *
hkp_strerror(int code)
{
    switch (code) {
    case 0:           return "success";
    case HKP_EKEY:    return "key refused";
    case HKP_ELIMIT:  return "merged key would exceed a limit";
    case HKP_ESTORED: return "stored key does not decode";
    case HKP_ESAMPLE: return "key hash equals a sample point; it cannot "
                             "enter the prefix tree";
    case HKP_ENOMEM:  return "out of memory";
    case HKP_ERDONLY: return "database opened read-only";
    case HKP_EPTREE:  return "prefix tree disagrees with the stored keys";
    case HKP_EREPLAY: return "a replayed key did not store as before";
    case HKP_ESCHEMA: return "database schema version missing or different";
    case HKP_EPROFILE: return "database profile set unknown or incomplete "
                              "(reopen it with this version)";
    case HKP_EMAPBUSY: return "the map size cannot change while a "
                              "transaction of this process is active";
    case HKP_EMAPMAX: return "database map full at its largest size "
                             "(HKP_DB_MAP_MAX)";
    case HKP_EBLOCKED: return "blocked by the operator";
    case HKP_EMORE:   return "more keys match than were asked for";
    case HKP_ECANDIDATES: return "a search word matches more keys than the "
                                 "candidate limit";
    case HKP_EINVAL:  return "invalid argument";
    case HKP_ENOTFILE: return "not a regular file";
    case HKP_EPEERREC: return "stored peer status is not a record of this "
                              "version";
    case HKP_EBUDGET: return "work budget of this upload spent";
    case HKP_EFBIG:   return "file larger than its limit";
    default:
        if (code < 0 && (code < MDB_KEYEXIST || code > MDB_LAST_ERRCODE))
            return "unknown error";
        return mdb_strerror(code);   /* MDB_* and errno */
    }
}

int
hkp_err_is_key(int code)
{
    switch (code) {
    case HKP_EKEY:
    case HKP_ELIMIT:
    case HKP_ESTORED:
    case HKP_ESAMPLE:
    case HKP_EBUDGET:
    case HKP_EBLOCKED:
        return 1;
    default:
        return 0;
    }
}
