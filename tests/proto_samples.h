/*  =========================================================================
    proto_samples - deterministic sample messages of every example type

    Shared by the protobuf tests (test_proto, test_proto_alloc,
    proto_interop).  tests/proto_interop.py builds exactly the same values
    in Python, sample by sample, so the two runtimes can check each other:
    change both together.

    Floats in float (32-bit) fields are multiples of 1/64, exact in both
    languages; doubles are literals or IEEE specials.  Byte strings come
    from the same 64-bit LCG on both sides (proto_samples_fill).
    =========================================================================
*/

#ifndef PROTO_SAMPLES_H_INCLUDED
#define PROTO_SAMPLES_H_INCLUDED

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market.pb-c.h"
#include "telemetry.pb-c.h"
#include "zshm_meta.pb-c.h"

#define PROTO_SAMPLES_MAX 16
#define PROTO_SAMPLES_BEAMS 1080            //  a laser scan larger than a slot
#define PROTO_SAMPLES_JOINTS 12
#define PROTO_SAMPLES_CAMERA 65536          //  bytes of fake JPEG
#define PROTO_SAMPLES_LONG 3000             //  a string longer than a slot

typedef struct {
    const char *name;                   //  sample name, e.g. "tick_extreme"
    const ProtobufCMessage *msg;        //  the message (in the samples' storage)
} proto_sample_t;

typedef struct {
    proto_sample_t items [PROTO_SAMPLES_MAX];   //  the samples, in order
    size_t count;                               //  how many
    //  Storage the messages point into.
    Zshm__Market__Tick tick, tick_extreme, tick_long;
    Zshm__Market__Quote quote, quote_extreme;
    Zshm__Market__Trade trade, trade_extreme;
    Zshm__Market__TradeCondition conditions [2], all_conditions [16];
    Zshm__Telemetry__Telemetry telemetry, telemetry_fault, telemetry_empty;
    Zshm__Telemetry__Pose pose, fault_pose;
    Zshm__Telemetry__Vector3 position, acceleration, angular;
    Zshm__Telemetry__Quaternion orientation;
    Zshm__Telemetry__Imu imu;
    Zshm__Telemetry__LaserScan scan;
    Zshm__Telemetry__Battery battery;
    char joint_name_text [PROTO_SAMPLES_JOINTS][16];
    char *joint_names [PROTO_SAMPLES_JOINTS];
    float joint_positions [PROTO_SAMPLES_JOINTS];
    float joint_velocities [PROTO_SAMPLES_JOINTS];
    double joint_efforts [PROTO_SAMPLES_JOINTS];
    float ranges [PROTO_SAMPLES_BEAMS];
    float intensities [PROTO_SAMPLES_BEAMS];
    uint8_t camera [PROTO_SAMPLES_CAMERA];
    int64_t counters [5];
    char long_text [PROTO_SAMPLES_LONG + 1];
    Zshm__Meta meta;
    Zshm__Heartbeat heartbeat;
} proto_samples_t;

//  The LCG both languages use for byte strings: x = x * A + C (mod 2^64),
//  each byte the top 8 bits.
static inline void
proto_samples_fill (uint8_t *bytes, size_t size, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t index = 0; index < size; index++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        bytes [index] = (uint8_t) (x >> 56);
    }
}

static inline void
proto_samples_add (proto_samples_t *self, const char *name, const ProtobufCMessage *msg)
{
    if (self->count < PROTO_SAMPLES_MAX) {
        self->items [self->count].name = name;
        self->items [self->count].msg = msg;
        self->count++;
    }
}

//  Fill *self with every sample.  The messages point into *self.
static inline void
proto_samples_init (proto_samples_t *self)
{
    memset (self, 0, sizeof *self);
    for (size_t index = 0; index < PROTO_SAMPLES_LONG; index++)
        self->long_text [index] = (char) ('A' + index % 26);

    //  Market data.
    Zshm__Market__Tick *tick = &self->tick;
    zshm__market__tick__init (tick);
    tick->symbol = (char *) "AAPL";
    tick->venue = ZSHM__MARKET__VENUE__VENUE_XNAS;
    tick->exchange_time_ns = 1767225600123456789ULL;
    tick->receive_time_ns = 1767225600123460000ULL;
    tick->sequence = 987654321;
    tick->bid = 189.25;
    tick->ask = 189.26;
    tick->last = 189.255;
    tick->bid_size = 300;
    tick->ask_size = 500;
    tick->last_size = 100;
    tick->volume = 51234567;
    proto_samples_add (self, "tick", &tick->base);

    tick = &self->tick_extreme;
    zshm__market__tick__init (tick);
    tick->symbol = (char *) "";
    tick->venue = ZSHM__MARKET__VENUE__VENUE_OTHER;
    tick->exchange_time_ns = UINT64_MAX;
    tick->receive_time_ns = 1;
    tick->sequence = UINT64_MAX;
    tick->bid = NAN;
    tick->ask = INFINITY;
    tick->last = -INFINITY;
    tick->bid_size = UINT64_MAX;
    tick->ask_size = 1;
    tick->last_size = 0;
    tick->volume = 1ULL << 63;
    proto_samples_add (self, "tick_extreme", &tick->base);

    tick = &self->tick_long;
    zshm__market__tick__init (tick);
    tick->symbol = self->long_text;
    tick->venue = ZSHM__MARKET__VENUE__VENUE_XEUR;
    tick->bid = DBL_MAX;
    tick->ask = 4.9406564584124654e-324;   //  the smallest subnormal
    tick->last = -DBL_MAX;
    tick->volume = 1;
    proto_samples_add (self, "tick_long", &tick->base);

    Zshm__Market__Quote *quote = &self->quote;
    zshm__market__quote__init (quote);
    quote->symbol = (char *) "ESZ5";
    quote->venue = ZSHM__MARKET__VENUE__VENUE_XCME;
    quote->time_ns = 1767225600000000001ULL;
    quote->price_exponent = -2;
    quote->bid_price = 605025;
    quote->ask_price = 605050;
    quote->bid_size = 12;
    quote->ask_size = 31;
    quote->bid_orders = 4;
    quote->ask_orders = 9;
    quote->level = 0;
    proto_samples_add (self, "quote", &quote->base);

    quote = &self->quote_extreme;
    zshm__market__quote__init (quote);
    quote->symbol = (char *) "\xe2\x82\xac" "uro \xe6\xa0\xaa";     //  "€uro 株", UTF-8
    quote->venue = ZSHM__MARKET__VENUE__VENUE_UNSPECIFIED;
    quote->time_ns = UINT64_MAX;
    quote->price_exponent = INT32_MIN;
    quote->bid_price = INT64_MIN;
    quote->ask_price = INT64_MAX;
    quote->bid_size = UINT64_MAX;
    quote->ask_size = UINT64_MAX - 1;
    quote->bid_orders = UINT32_MAX;
    quote->ask_orders = 1;
    quote->level = UINT32_MAX;
    quote->indicative = 1;
    proto_samples_add (self, "quote_extreme", &quote->base);

    Zshm__Market__Trade *trade = &self->trade;
    zshm__market__trade__init (trade);
    trade->symbol = (char *) "VOD.L";
    trade->venue = ZSHM__MARKET__VENUE__VENUE_XLON;
    trade->time_ns = 1767225600500000000ULL;
    trade->trade_id = (char *) "T-0001-88231";
    trade->price_exponent = -4;
    trade->price = 725500;
    trade->size = 15000;
    trade->aggressor = ZSHM__MARKET__SIDE__SIDE_SELL;
    self->conditions [0] = ZSHM__MARKET__TRADE_CONDITION__TRADE_CONDITION_OPENING;
    self->conditions [1] = ZSHM__MARKET__TRADE_CONDITION__TRADE_CONDITION_ODD_LOT;
    trade->n_conditions = 2;
    trade->conditions = self->conditions;
    trade->buy_order_id = 0x0123456789ABCDEFULL;
    trade->sell_order_id = 42;
    trade->currency = (char *) "GBP";
    trade->notional = 1088.25;
    proto_samples_add (self, "trade", &trade->base);

    trade = &self->trade_extreme;
    zshm__market__trade__init (trade);
    trade->symbol = (char *) "X";
    trade->venue = ZSHM__MARKET__VENUE__VENUE_IEXG;
    trade->time_ns = 0;
    trade->trade_id = self->long_text;
    trade->price_exponent = INT32_MAX;
    trade->price = INT64_MIN;
    trade->size = UINT64_MAX;
    trade->aggressor = ZSHM__MARKET__SIDE__SIDE_BUY;
    for (int index = 0; index < 16; index++)
        self->all_conditions [index] = (Zshm__Market__TradeCondition) (index % 8);
    trade->n_conditions = 16;
    trade->conditions = self->all_conditions;
    trade->buy_order_id = UINT64_MAX;
    trade->sell_order_id = 1;
    trade->currency = (char *) "";
    trade->notional = -INFINITY;
    proto_samples_add (self, "trade_extreme", &trade->base);

    //  Telemetry: a full snapshot, larger than a 1 KiB slot many times.
    zshm__telemetry__vector3__init (&self->position);
    self->position.x = 12.5;
    self->position.y = -3.25;
    self->position.z = 0.0;
    zshm__telemetry__quaternion__init (&self->orientation);
    self->orientation.x = 0.0;
    self->orientation.y = 0.0;
    self->orientation.z = 0.7071067811865476;
    self->orientation.w = 0.7071067811865476;
    zshm__telemetry__pose__init (&self->pose);
    self->pose.frame_id = (char *) "map";
    self->pose.position = &self->position;
    self->pose.orientation = &self->orientation;
    zshm__telemetry__vector3__init (&self->acceleration);
    self->acceleration.x = 0.01;
    self->acceleration.y = -0.02;
    self->acceleration.z = 9.80665;
    zshm__telemetry__vector3__init (&self->angular);
    self->angular.z = 0.125;
    zshm__telemetry__imu__init (&self->imu);
    self->imu.linear_acceleration = &self->acceleration;
    self->imu.angular_velocity = &self->angular;
    self->imu.temperature_c = 41.5f;
    for (int index = 0; index < PROTO_SAMPLES_BEAMS; index++) {
        //  Every 97th beam has no return: +inf, as LaserScan says.
        self->ranges [index] = index % 97 == 0 ? INFINITY : (float) (index % 640) / 64.0f;
        self->intensities [index] = (float) (index % 256);
    }
    zshm__telemetry__laser_scan__init (&self->scan);
    self->scan.angle_min = -2.375f;
    self->scan.angle_increment = 0.00390625f;
    self->scan.range_min = 0.0625f;
    self->scan.range_max = 30.0f;
    self->scan.n_ranges = PROTO_SAMPLES_BEAMS;
    self->scan.ranges = self->ranges;
    self->scan.n_intensities = PROTO_SAMPLES_BEAMS;
    self->scan.intensities = self->intensities;
    zshm__telemetry__battery__init (&self->battery);
    self->battery.voltage = 48.25f;
    self->battery.current = -12.5f;
    self->battery.charge_fraction = 0.75f;
    self->battery.charging = 0;
    for (int index = 0; index < PROTO_SAMPLES_JOINTS; index++) {
        snprintf (self->joint_name_text [index], sizeof self->joint_name_text [index],
                  "joint_%d", index);
        self->joint_names [index] = self->joint_name_text [index];
        self->joint_positions [index] = (float) (index - 6) / 64.0f;
        self->joint_velocities [index] = (float) index / 8.0f;
        self->joint_efforts [index] = index == 0 ? DBL_MIN : index * 1.5e3;
    }
    proto_samples_fill (self->camera, PROTO_SAMPLES_CAMERA, 20240601);
    self->counters [0] = INT64_MIN;
    self->counters [1] = -1;
    self->counters [2] = 0;
    self->counters [3] = 1;
    self->counters [4] = INT64_MAX;

    Zshm__Telemetry__Telemetry *telemetry = &self->telemetry;
    zshm__telemetry__telemetry__init (telemetry);
    telemetry->robot_id = (char *) "amr-07";
    telemetry->time_ns = 1767225601000000000ULL;
    telemetry->sequence = 123456;
    telemetry->mode = ZSHM__TELEMETRY__MODE__MODE_AUTONOMOUS;
    telemetry->pose = &self->pose;
    telemetry->n_joint_names = PROTO_SAMPLES_JOINTS;
    telemetry->joint_names = self->joint_names;
    telemetry->n_joint_positions = PROTO_SAMPLES_JOINTS;
    telemetry->joint_positions = self->joint_positions;
    telemetry->n_joint_velocities = PROTO_SAMPLES_JOINTS;
    telemetry->joint_velocities = self->joint_velocities;
    telemetry->n_joint_efforts = PROTO_SAMPLES_JOINTS;
    telemetry->joint_efforts = self->joint_efforts;
    telemetry->imu = &self->imu;
    telemetry->scan = &self->scan;
    telemetry->camera_jpeg.len = PROTO_SAMPLES_CAMERA;
    telemetry->camera_jpeg.data = self->camera;
    telemetry->battery = &self->battery;
    telemetry->status_case = ZSHM__TELEMETRY__TELEMETRY__STATUS_WARNINGS;
    telemetry->warnings = 3;
    telemetry->n_counters = 5;
    telemetry->counters = self->counters;
    proto_samples_add (self, "telemetry", &telemetry->base);

    //  A fault report: empty bytes, empty repeated fields, the other oneof.
    zshm__telemetry__pose__init (&self->fault_pose);
    self->fault_pose.frame_id = (char *) "odom";
    telemetry = &self->telemetry_fault;
    zshm__telemetry__telemetry__init (telemetry);
    telemetry->robot_id = (char *) "amr-07";
    telemetry->time_ns = 1767225602000000000ULL;
    telemetry->sequence = 123457;
    telemetry->mode = ZSHM__TELEMETRY__MODE__MODE_FAULT;
    telemetry->pose = &self->fault_pose;
    telemetry->camera_jpeg.len = 0;
    telemetry->camera_jpeg.data = NULL;
    telemetry->status_case = ZSHM__TELEMETRY__TELEMETRY__STATUS_FAULT;
    telemetry->fault = (char *) "motor 3 overcurrent";
    proto_samples_add (self, "telemetry_fault", &telemetry->base);

    //  Everything default: packs to zero bytes.
    zshm__telemetry__telemetry__init (&self->telemetry_empty);
    proto_samples_add (self, "telemetry_empty", &self->telemetry_empty.base);

    //  zshm's own metadata.
    Zshm__Meta *meta = &self->meta;
    zshm__meta__init (meta);
    meta->version = 1;
    meta->source_sequence = UINT64_MAX >> 1;
    meta->publish_time_ns = 1767225603000000000ULL;
    meta->source_incarnation = 0xFEDCBA9876543210ULL;
    meta->type_name = (char *) "zshm.market.Tick";
    meta->channel = (char *) "ticks";
    meta->source_lost = 17;
    meta->source_restarts = 2;
    meta->link_sequence = 1000001;
    meta->link_incarnation = UINT64_MAX;
    meta->hops = 1;
    meta->origin_host = (char *) "feed-01.example";
    meta->frames = 2;
    proto_samples_add (self, "meta", &meta->base);

    Zshm__Heartbeat *heartbeat = &self->heartbeat;
    zshm__heartbeat__init (heartbeat);
    heartbeat->version = 1;
    heartbeat->link_sequence = 1000001;
    heartbeat->link_incarnation = UINT64_MAX;
    heartbeat->time_ns = 1767225604000000000ULL;
    heartbeat->source_incarnation = 0xFEDCBA9876543210ULL;
    heartbeat->source_lost = 17;
    heartbeat->source_restarts = 2;
    heartbeat->channel = (char *) "ticks";
    heartbeat->origin_host = (char *) "feed-01.example";
    heartbeat->interval_ms = 1000;
    proto_samples_add (self, "heartbeat", &heartbeat->base);
}

//  Pack a message into a new heap buffer (for comparisons); *size_p gets
//  its size.  The caller frees it.  NULL if out of memory.
static inline uint8_t *
proto_samples_pack (const ProtobufCMessage *msg, size_t *size_p)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *bytes = (uint8_t *) malloc (size ? size : 1);
    if (bytes)
        *size_p = protobuf_c_message_pack (msg, bytes);
    return bytes;
}

//  True when two messages pack to the same bytes: protobuf-c packs fields
//  in number order, deterministically, so this compares every field,
//  including the bit patterns of NaNs.
static inline bool
proto_samples_equal (const ProtobufCMessage *left, const ProtobufCMessage *right)
{
    if (left->descriptor != right->descriptor)
        return false;
    size_t left_size = 0, right_size = 0;
    uint8_t *left_bytes = proto_samples_pack (left, &left_size);
    uint8_t *right_bytes = proto_samples_pack (right, &right_size);
    bool equal = left_bytes && right_bytes && left_size == right_size
              && memcmp (left_bytes, right_bytes, left_size) == 0;
    free (left_bytes);
    free (right_bytes);
    return equal;
}

#endif
