/*  =========================================================================
    zshm - shared-memory publish/subscribe for ZeroMQ users

    The umbrella header: include this one.
    =========================================================================
*/

#ifndef ZSHM_H_INCLUDED
#define ZSHM_H_INCLUDED

#define ZSHM_VERSION_MAJOR 0
#define ZSHM_VERSION_MINOR 1
#define ZSHM_VERSION_PATCH 0

#include "zshm_ring.h"
#include "zshm_reader.h"
#include "zshm_pub.h"
#include "zshm_sub.h"
#include "zshm_proto.h"
#include "zshm_fastgen.h"
#include "zshm_publisher.h"
#include "zshm_subscriber.h"

#endif
