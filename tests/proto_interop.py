"""The Python half of the protobuf interoperability test.

    proto_interop.py check DIR   decode DIR/c_NAME.bin (packed by protobuf-c
                                 and taken off a zshm ring) with Google's
                                 protobuf runtime and compare each with the
                                 Python sample of the same name
    proto_interop.py write DIR   pack every Python sample to DIR/py_NAME.bin

The generated modules (market_pb2, telemetry_pb2, zshm_meta_pb2) must be on
sys.path (test_proto_python.sh generates them with protoc --python_out).
The samples mirror tests/proto_samples.h value for value: change both
together.  Exits 0 when every sample passed, 1 on a mismatch.
"""

import math
import os
import sys

import market_pb2
import telemetry_pb2
import zshm_meta_pb2

UINT64_MAX = (1 << 64) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
UINT32_MAX = (1 << 32) - 1
DBL_MAX = sys.float_info.max
DBL_MIN = sys.float_info.min
DBL_TRUE_MIN = 5e-324

BEAMS = 1080
JOINTS = 12
CAMERA = 65536
LONG = 3000


def lcg_bytes(size, seed):
    """Same generator as proto_samples_fill in C."""
    x = seed
    out = bytearray(size)
    for index in range(size):
        x = (x * 6364136223846793005 + 1442695040888963407) & UINT64_MAX
        out[index] = x >> 56
    return bytes(out)


def long_text():
    return "".join(chr(ord("A") + index % 26) for index in range(LONG))


def samples():
    """Name -> message, in the order proto_samples_init adds them."""
    m = market_pb2
    t = telemetry_pb2
    items = {}

    items["tick"] = m.Tick(
        symbol="AAPL", venue=m.VENUE_XNAS,
        exchange_time_ns=1767225600123456789, receive_time_ns=1767225600123460000,
        sequence=987654321, bid=189.25, ask=189.26, last=189.255,
        bid_size=300, ask_size=500, last_size=100, volume=51234567)
    items["tick_extreme"] = m.Tick(
        symbol="", venue=m.VENUE_OTHER, exchange_time_ns=UINT64_MAX, receive_time_ns=1,
        sequence=UINT64_MAX, bid=math.nan, ask=math.inf, last=-math.inf,
        bid_size=UINT64_MAX, ask_size=1, last_size=0, volume=1 << 63)
    items["tick_long"] = m.Tick(
        symbol=long_text(), venue=m.VENUE_XEUR, bid=DBL_MAX, ask=DBL_TRUE_MIN,
        last=-DBL_MAX, volume=1)

    items["quote"] = m.Quote(
        symbol="ESZ5", venue=m.VENUE_XCME, time_ns=1767225600000000001, price_exponent=-2,
        bid_price=605025, ask_price=605050, bid_size=12, ask_size=31,
        bid_orders=4, ask_orders=9, level=0)
    items["quote_extreme"] = m.Quote(
        symbol="\u20acuro \u682a", venue=m.VENUE_UNSPECIFIED, time_ns=UINT64_MAX,
        price_exponent=INT32_MIN, bid_price=INT64_MIN, ask_price=INT64_MAX,
        bid_size=UINT64_MAX, ask_size=UINT64_MAX - 1, bid_orders=UINT32_MAX,
        ask_orders=1, level=UINT32_MAX, indicative=True)

    items["trade"] = m.Trade(
        symbol="VOD.L", venue=m.VENUE_XLON, time_ns=1767225600500000000,
        trade_id="T-0001-88231", price_exponent=-4, price=725500, size=15000,
        aggressor=m.SIDE_SELL,
        conditions=[m.TRADE_CONDITION_OPENING, m.TRADE_CONDITION_ODD_LOT],
        buy_order_id=0x0123456789ABCDEF, sell_order_id=42, currency="GBP",
        notional=1088.25)
    items["trade_extreme"] = m.Trade(
        symbol="X", venue=m.VENUE_IEXG, time_ns=0, trade_id=long_text(),
        price_exponent=INT32_MAX, price=INT64_MIN, size=UINT64_MAX,
        aggressor=m.SIDE_BUY, conditions=[index % 8 for index in range(16)],
        buy_order_id=UINT64_MAX, sell_order_id=1, currency="", notional=-math.inf)

    ranges = [math.inf if index % 97 == 0 else (index % 640) / 64.0
              for index in range(BEAMS)]
    intensities = [float(index % 256) for index in range(BEAMS)]
    telemetry = t.Telemetry(
        robot_id="amr-07", time_ns=1767225601000000000, sequence=123456,
        mode=t.MODE_AUTONOMOUS,
        pose=t.Pose(frame_id="map",
                    position=t.Vector3(x=12.5, y=-3.25, z=0.0),
                    orientation=t.Quaternion(x=0.0, y=0.0, z=0.7071067811865476,
                                             w=0.7071067811865476)),
        joint_names=["joint_%d" % index for index in range(JOINTS)],
        joint_positions=[(index - 6) / 64.0 for index in range(JOINTS)],
        joint_velocities=[index / 8.0 for index in range(JOINTS)],
        joint_efforts=[DBL_MIN if index == 0 else index * 1.5e3 for index in range(JOINTS)],
        imu=t.Imu(linear_acceleration=t.Vector3(x=0.01, y=-0.02, z=9.80665),
                  angular_velocity=t.Vector3(z=0.125), temperature_c=41.5),
        scan=t.LaserScan(angle_min=-2.375, angle_increment=0.00390625, range_min=0.0625,
                         range_max=30.0, ranges=ranges, intensities=intensities),
        camera_jpeg=lcg_bytes(CAMERA, 20240601),
        battery=t.Battery(voltage=48.25, current=-12.5, charge_fraction=0.75,
                          charging=False),
        warnings=3,
        counters=[INT64_MIN, -1, 0, 1, INT64_MAX])
    items["telemetry"] = telemetry
    items["telemetry_fault"] = t.Telemetry(
        robot_id="amr-07", time_ns=1767225602000000000, sequence=123457,
        mode=t.MODE_FAULT, pose=t.Pose(frame_id="odom"), camera_jpeg=b"",
        fault="motor 3 overcurrent")
    items["telemetry_empty"] = t.Telemetry()

    items["meta"] = zshm_meta_pb2.Meta(
        version=1, source_sequence=UINT64_MAX >> 1, publish_time_ns=1767225603000000000,
        source_incarnation=0xFEDCBA9876543210, type_name="zshm.market.Tick",
        channel="ticks", source_lost=17, source_restarts=2, link_sequence=1000001,
        link_incarnation=UINT64_MAX, hops=1, origin_host="feed-01.example", frames=2)
    items["heartbeat"] = zshm_meta_pb2.Heartbeat(
        version=1, link_sequence=1000001, link_incarnation=UINT64_MAX,
        time_ns=1767225604000000000, source_incarnation=0xFEDCBA9876543210,
        source_lost=17, source_restarts=2, channel="ticks",
        origin_host="feed-01.example", interval_ms=1000)
    return items


def spot_checks(name, msg):
    """Field checks that byte comparison alone could not make meaningful."""
    if name == "tick_extreme":
        assert math.isnan(msg.bid) and msg.ask == math.inf and msg.last == -math.inf
        assert msg.sequence == UINT64_MAX and msg.symbol == ""
    elif name == "quote_extreme":
        assert msg.bid_price == INT64_MIN and msg.ask_price == INT64_MAX
        assert msg.price_exponent == INT32_MIN and msg.symbol == "\u20acuro \u682a"
    elif name == "trade_extreme":
        assert msg.price == INT64_MIN and msg.size == UINT64_MAX
        assert list(msg.conditions) == [index % 8 for index in range(16)]
    elif name == "telemetry":
        assert len(msg.scan.ranges) == BEAMS and math.isinf(msg.scan.ranges[0])
        assert msg.camera_jpeg == lcg_bytes(CAMERA, 20240601)
        assert msg.WhichOneof("status") == "warnings" and msg.warnings == 3
        assert list(msg.counters) == [INT64_MIN, -1, 0, 1, INT64_MAX]
    elif name == "telemetry_fault":
        assert msg.WhichOneof("status") == "fault" and msg.camera_jpeg == b""
    elif name == "tick_long":
        assert len(msg.symbol) == LONG and msg.ask == DBL_TRUE_MIN


def check(directory):
    failed = 0
    for name, expected in samples().items():
        with open(os.path.join(directory, "c_%s.bin" % name), "rb") as f:
            data = f.read()
        with open(os.path.join(directory, "c_%s.type" % name)) as f:
            type_name = f.read()
        if type_name != expected.DESCRIPTOR.full_name:
            print("FAIL %s: C recorded type %s, expected %s"
                  % (name, type_name, expected.DESCRIPTOR.full_name))
            failed += 1
            continue
        got = type(expected)()
        got.ParseFromString(data)
        # Serialization is deterministic for equal values (fields in number
        # order), and unlike == it compares NaN by its bits.
        same = got.SerializeToString(deterministic=True) \
            == expected.SerializeToString(deterministic=True)
        try:
            spot_checks(name, got)
        except AssertionError:
            same = False
        if not same:
            print("FAIL %s: Python decoded C's bytes to a different message" % name)
            failed += 1
        else:
            print("proto_interop.py: %-16s %6d bytes from C decode equal%s"
                  % (name, len(data),
                     ", same bytes" if data == expected.SerializeToString() else ""))
    return failed


def write(directory):
    for name, msg in samples().items():
        with open(os.path.join(directory, "py_%s.bin" % name), "wb") as f:
            f.write(msg.SerializeToString())
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "write"):
        print("usage: proto_interop.py check|write DIR", file=sys.stderr)
        return 1
    if sys.argv[1] == "check":
        failed = check(sys.argv[2])
        print("proto_interop.py: %d of %d samples from C failed"
              % (failed, len(samples())))
        return 1 if failed else 0
    return write(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
