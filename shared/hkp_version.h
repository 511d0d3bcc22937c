/*
 * The release version of the keyserver, printed by `reconsvc --version`
 * and shown by the nginx module. One place to bump.
 */
#ifndef HKP_VERSION_H
#define HKP_VERSION_H

#define HKP_VERSION  "0.2.0"

#endif
