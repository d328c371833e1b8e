#!/usr/bin/env python3
"""Builds the project's own frame corpus: each case is written as NAME.hex (one frame, upper-case
hex) and NAME.json (what a correct decoder prints, per docs/decode-json.md), plus NAME.profile when
the frame must be decoded with a given profile instead of `auto`.

This is a second, independent reading of the protocol tables (docs/protocol.md): frames are built
here from chosen physical values, and the expected JSON is written from those same values, never by
running the C++ decoder. Run it from anywhere; it writes next to itself into frames/.
Usage: python3 make_corpus.py
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames")


def be(value, width):
    return value.to_bytes(width, "big")


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x


def frame(cmd, vin, data, start=b"##", variant="terminal", ack=0xFE, sw=1, enc=1):
    vin_b = vin if isinstance(vin, bytes) else vin.encode()
    if variant == "terminal":
        head = bytes([cmd]) + vin_b + bytes([sw, enc])
    else:
        head = bytes([cmd, ack]) + vin_b + bytes([enc])
    body = head + be(len(data), 2) + data
    return start + body + bytes([bcc(body)])


def header_json(cmd, name, vin, data, profile, start="##", variant="terminal", ack=0xFE, sw=1, enc=1):
    return {
        "start": start, "variant": variant, "command": cmd, "command_name": name,
        "ack_flag": ack if variant == "platform" else None,
        "software_version": sw if variant == "terminal" else None,
        "vin": vin, "encryption": enc, "data_length": len(data), "bcc_ok": True,
        "profile": profile,
    }


def tm(y, mo, d, h, mi, s):
    return bytes([y - 2000, mo, d, h, mi, s]), "%04d-%02d-%02dT%02d:%02d:%02d+08:00" % (y, mo, d, h, mi, s)


# Field tables: (name, width, resolution, offset). Resolution as a (num, den) pair.
ENGINE = [("speed_kmh", 2, (1, 256), 0), ("barometric_kpa", 1, (1, 2), 0),
          ("net_torque_pct", 1, (1, 1), -125), ("friction_torque_pct", 1, (1, 1), -125),
          ("engine_rpm", 2, (1, 8), 0), ("fuel_rate_lph", 2, (1, 20), 0)]
DIESEL = [("nox_upstream_ppm", 2, (1, 20), -200), ("nox_downstream_ppm", 2, (1, 20), -200),
          ("reagent_level_pct", 1, (2, 5), 0), ("intake_air_kgph", 2, (1, 20), 0),
          ("scr_inlet_temp_c", 2, (1, 32), -273), ("scr_outlet_temp_c", 2, (1, 32), -273),
          ("dpf_dp_kpa", 2, (1, 10), 0), ("coolant_temp_c", 1, (1, 1), -40),
          ("fuel_level_pct", 1, (2, 5), 0)]
ODOMETER = [("odometer_km", 4, (1, 10), 0)]
EGR = [("egr_actual_pct", 2, (1, 400), 0), ("egr_commanded_pct", 2, (1, 400), 0)]
O2 = [("o2_upstream_lambda", 2, (305, 10000000), 0), ("o2_downstream_v", 1, (1, 100), 0)]
NOX = [("nox_downstream_ppm", 2, (1, 20), -200)]
CAT_REST = [("intake_air_kgph", 2, (1, 20), 0), ("coolant_temp_c", 1, (1, 1), -40),
            ("catalyst_temp_c", 2, (1, 32), -273)]
HYBRID = [("motor_rpm", 2, (1, 1), 0), ("motor_load_pct", 1, (1, 1), 0), ("battery_v", 2, (1, 10), 0),
          ("battery_a", 2, (1, 10), -1000), ("soc_pct", 1, (1, 1), 0)]
SUPPLEMENTARY = [("torque_mode", 1, (1, 1), 0), ("accelerator_pct", 1, (2, 5), 0),
                 ("total_fuel_l", 4, (1, 2), 0), ("urea_tank_temp_c", 1, (1, 1), -40),
                 ("urea_injection", 4, (1, 100), 0), ("urea_total", 4, (1, 1), 0),
                 ("dpf_exhaust_temp_c", 2, (1, 32), -273)]
SMOKE = [("exhaust_temp_c", 2, (1, 1), 0), ("fault_code", 2, (1, 1), 0), ("back_pressure_kpa", 2, (1, 1), 0),
         ("k_m1", 2, (1, 100), 0), ("opacity_pct", 2, (1, 10), 0), ("pm_mg_m3", 2, (1, 10), 0),
         ("k_alarm", 2, (1, 1), 0), ("back_pressure_alarm", 2, (1, 1), 0), ("nox_ppm", 2, (1, 1), 0)]


def fields(table, values, out_json, flags):
    """Encodes `values` (name → raw int; or 'invalid'/'abnormal'; or ('oor', raw)) and fills the
    expected JSON with the physical values; raw ints are given so that every value is exact."""
    data = b""
    for name, width, (num, den), off in table:
        v = values[name]
        ones = (1 << (8 * width)) - 1
        if v == "invalid":
            raw = ones
            out_json[name] = None
            flags[name] = "invalid"
        elif v == "abnormal":
            raw = ones - 1
            out_json[name] = None
            flags[name] = "abnormal"
        elif isinstance(v, tuple):
            raw = v[1]
            out_json[name] = None
            flags[name] = "out_of_range"
        else:
            raw = v
            out_json[name] = (raw * num + off * den) / den
        data += be(raw, width)
    return data


def position(status, lon_raw, lat_raw):
    data = bytes([status]) + be(lon_raw, 4) + be(lat_raw, 4)
    lon = lon_raw / 1e6 * (-1 if status & 4 else 1)
    lat = lat_raw / 1e6 * (-1 if status & 2 else 1)
    return data, {"valid": not (status & 1), "lon": lon, "lat": lat}


def stream_raws(seed):
    """Plausible raw values for a driving diesel truck, varied by `seed`."""
    return {"speed_kmh": 12800 + 256 * seed, "barometric_kpa": 198, "net_torque_pct": 165 + seed,
            "friction_torque_pct": 133, "engine_rpm": 11200 + 40 * seed, "fuel_rate_lph": 380 + seed,
            "nox_upstream_ppm": 12000 + 20 * seed, "nox_downstream_ppm": 4400 + seed,
            "reagent_level_pct": 180, "intake_air_kgph": 15000, "scr_inlet_temp_c": 18200 + seed,
            "scr_outlet_temp_c": 17500, "dpf_dp_kpa": 14, "coolant_temp_c": 124, "fuel_level_pct": 140,
            "odometer_km": 3456789 + seed, "egr_actual_pct": 4000, "egr_commanded_pct": 4100}


def stream_block(raws, pos):
    j, flags = {}, {}
    data = fields(ENGINE, raws, j, flags) + fields(DIESEL, raws, j, flags)
    pdata, pjson = pos
    j["position"] = pjson
    data += pdata + fields(ODOMETER, raws, j, flags)
    j["flags"] = flags
    return data, j


def machine_stream_block(raws):
    j, flags = {}, {}
    data = fields(ENGINE, raws, j, flags) + fields(DIESEL, raws, j, flags) + fields(EGR, raws, j, flags)
    j["flags"] = flags
    return data, j


def fixed_block(table, raws):
    j, flags = {}, {}
    data = fields(table, raws, j, flags)
    j["flags"] = flags
    return data, j


def catalyst_block(raws, pos, with_nox):
    j, flags = {}, {}
    data = fields(ENGINE, raws, j, flags) + fields(O2, raws, j, flags)
    if with_nox:
        data += fields(NOX, raws, j, flags)
    data += fields(CAT_REST, raws, j, flags)
    pdata, pjson = pos
    j["position"] = pjson
    data += pdata + fields(ODOMETER, raws, j, flags)
    j["flags"] = flags
    return data, j


def obd_block(vin, dtcs, protocol=2, mil=0, cvn=b"1A2B3C4D0000000000", iupr=None, count=None):
    iupr_b = b"0" * 36 if iupr is None else b"".join(be(v, 2) for v in iupr)
    n = len(dtcs) if count is None else count
    data = (bytes([protocol, mil]) + be(0xFEA0, 2) + be(0x0008, 2) + vin.encode() +
            b"CAL-LT-0001-000000" + cvn + iupr_b + bytes([n]) + b"".join(be(d, 4) for d in dtcs))
    flags = {}
    j = {"protocol": None if protocol >= 0xFE else protocol, "mil": None if mil >= 0xFE else mil,
         "support": 0xFEA0, "readiness": 8, "vin": vin, "calid": "CAL-LT-0001-000000",
         "cvn": cvn.decode() if all(0x20 <= c <= 0x7E for c in cvn) else {"hex": cvn.hex().upper()},
         "iupr": iupr, "dtc_count": None if n >= 0xFE else n, "dtcs": ["%08X" % d for d in dtcs]}
    for name in ("protocol", "mil", "dtc_count"):
        if j[name] is None:
            flags[name] = "invalid"
    if flags:
        j["flags"] = flags
    return data, j


def signature(r, s):
    return bytes([len(r)]) + r + bytes([len(s)]) + s, {"r": r.hex().upper(), "s": s.hex().upper()}


CASES = {}


def case(name, raw_frame, expected, profile=None, variants=()):
    """`variants`: the protocol variants the frame shows (decode-json.md), in the decoder's order."""
    ordered = {k: v for k, v in expected.items() if k != "errors"}
    ordered["variants"] = list(variants)
    ordered["errors"] = expected["errors"]
    CASES[name] = (raw_frame, ordered, profile)


VIN = "LZZ5CLSB5PA123456"
MACHINE = "NR4EXC2023ZZ00017"
ZZ = (1 << 32)


def build():
    # gb17691 real-time: OBD with invalid markers, ASCII-zero IUPR and a binary CVN; a stream sample
    # with invalid, abnormal and out-of-range values and a south-west fix.
    t, iso = tm(2026, 3, 14, 23, 59, 58)
    obd, obd_j = obd_block(VIN, [], protocol=0xFE, mil=0xFE, cvn=b"\x9a\x3c\x00\x11" + b"0" * 14, count=0xFE)
    raws = stream_raws(1)
    raws.update({"speed_kmh": "invalid", "coolant_temp_c": "abnormal", "barometric_kpa": ("oor", 0xFB),
                 "nox_downstream_ppm": ("oor", 0xFB00)})
    st, st_j = stream_block(raws, position(0x06, 151209300, 33865100))
    data = t + b"\x01" + be(7, 2) + obd + b"\x02" + be(8, 2) + st
    case("c01-gb17691-markers-southwest", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "gb17691"),
              body={"time": iso, "blocks": [
                  {"type": 1, "type_name": "obd", "serial": 7, "obd": obd_j},
                  {"type": 2, "type_name": "stream", "serial": 8, "stream": st_j}]}, errors=[]), variants=["cvn_binary", "iupr_ascii_zeros"])

    # hj1239 real-time, 10 samples at 1 Hz, signed, "~~" start marker.
    t, iso = tm(2026, 7, 1, 8, 0, 10)
    data = t + be(42, 2)
    blocks = []
    for i in range(10):
        bt, biso = tm(2026, 7, 1, 8, 0, i)
        st, st_j = stream_block(stream_raws(i), position(0, 113625300 + 100 * i, 34746600 + 50 * i))
        data += b"\x02" + bt + st
        blocks.append({"type": 2, "type_name": "stream", "time": biso, "stream": st_j})
    sig, sig_j = signature(bytes(range(0x40, 0x60)), bytes(range(0x60, 0x80)))
    data += sig
    case("c02-hj1239-10-samples-signed-tildes", frame(2, VIN, data, start=b"~~"),
         dict(header_json(2, "realtime", VIN, data, "hj1239", start="~~"),
              body={"time": iso, "serial": 42, "blocks": blocks, "signature": sig_j}, errors=[]))

    # hj1239 real-time, 10 samples, no signature.
    data = t + be(43, 2)
    blocks = []
    for i in range(10):
        bt, biso = tm(2026, 7, 1, 8, 0, 10 + i)
        st, st_j = stream_block(stream_raws(10 + i), position(1, 113625300, 34746600))
        data += b"\x02" + bt + st
        blocks.append({"type": 2, "type_name": "stream", "time": biso, "stream": st_j})
    case("c03-hj1239-10-samples-unsigned", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "hj1239"),
              body={"time": iso, "serial": 43, "blocks": blocks, "signature": None}, errors=[]))

    # hj1239 resend (0x03) from a gas hybrid: 0x03 catalyst, 0x04 hybrid, 0x05 catalyst with NOx,
    # 0x80 supplementary, 0x81 smoke, with a signature whose R has a leading zero (33 bytes).
    t, iso = tm(2026, 6, 30, 17, 5, 0)
    bt, biso = tm(2026, 6, 29, 12, 0, 1)
    cat_raws = dict(stream_raws(3), o2_upstream_lambda=32787, o2_downstream_v=72, catalyst_temp_c=24000)
    twc, twc_j = catalyst_block(cat_raws, position(0, 112454200, 34619700), False)
    hyb, hyb_j = fixed_block(HYBRID, {"motor_rpm": 2500, "motor_load_pct": 40, "battery_v": 3850,
                                      "battery_a": 10250, "soc_pct": 87})
    twcn, twcn_j = catalyst_block(dict(cat_raws, nox_downstream_ppm=4300), position(0, 112454300, 34619800), True)
    sup, sup_j = fixed_block(SUPPLEMENTARY, {"torque_mode": 3, "accelerator_pct": 100, "total_fuel_l": 250000,
                                             "urea_tank_temp_c": 65, "urea_injection": 1234,
                                             "urea_total": 98765, "dpf_exhaust_temp_c": 20000})
    smk, smk_j = fixed_block(SMOKE, {"exhaust_temp_c": 410, "fault_code": 0, "back_pressure_kpa": 12,
                                     "k_m1": 35, "opacity_pct": 140, "pm_mg_m3": 52, "k_alarm": 0,
                                     "back_pressure_alarm": 0, "nox_ppm": "invalid"})
    sig, sig_j = signature(b"\x00" + bytes(range(0xA0, 0xC0)), bytes(range(0xC0, 0xE0)))
    data = (t + be(9, 2) + b"\x03" + bt + twc + b"\x04" + bt + hyb + b"\x05" + bt + twcn +
            b"\x80" + bt + sup + b"\x81" + bt + smk + sig)
    case("c04-hj1239-resend-all-blocks", frame(3, VIN, data),
         dict(header_json(3, "resend", VIN, data, "hj1239"),
              body={"time": iso, "serial": 9, "blocks": [
                  {"type": 3, "type_name": "twc", "time": biso, "twc": twc_j},
                  {"type": 4, "type_name": "hybrid", "time": biso, "hybrid": hyb_j},
                  {"type": 5, "type_name": "twc_nox", "time": biso, "twc_nox": twcn_j},
                  {"type": 0x80, "type_name": "supplementary", "time": biso, "supplementary": sup_j},
                  {"type": 0x81, "type_name": "smoke", "time": biso, "smoke": smk_j}],
                  "signature": sig_j}, errors=[]))

    # hj1239: an OEM 32-byte 0x03 block (decoded with the 0x05 layout, noted as twc_32_byte).
    t, iso = tm(2026, 5, 5, 5, 5, 5)
    twc32, twc32_j = catalyst_block(dict(cat_raws, nox_downstream_ppm=4100), position(0, 112454200, 34619700), True)
    data = t + be(10, 2) + b"\x03" + t + twc32
    case("c05-hj1239-twc-32-byte-variant", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "hj1239"),
              body={"time": iso, "serial": 10, "blocks": [
                  {"type": 3, "type_name": "twc", "time": iso, "twc": twc32_j}], "signature": None},
              errors=[]), profile="hj1239", variants=["twc_32_byte"])

    # hj1239: a stream sample, then the length-prefixed (TLV) form of 0x80, then a signature.
    st, st_j = stream_block(stream_raws(5), position(0, 113000000, 34000000))
    items = be(0x2711, 2) + b"\x02" + b"\x01\x02" + be(0x2712, 2) + b"\x04" + b"\xAA\xBB\xCC\xDD"
    sig, sig_j = signature(bytes(range(1, 33)), bytes(range(33, 65)))
    data = t + be(11, 2) + b"\x02" + t + st + b"\x80" + t + be(len(items), 2) + items + sig
    case("c06-hj1239-supplementary-tlv", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "hj1239"),
              body={"time": iso, "serial": 11, "blocks": [
                  {"type": 2, "type_name": "stream", "time": iso, "stream": st_j},
                  {"type": 0x80, "type_name": "supplementary", "time": iso,
                   "supplementary": {"tlv": {"2711": "0102", "2712": "AABBCCDD"}}}],
                  "signature": sig_j}, errors=[]))

    # gb17691: a stream sample, then a user-defined block of unknown size: the rest is kept raw.
    t, iso = tm(2026, 1, 2, 3, 4, 5)
    st, st_j = stream_block(stream_raws(6), position(0, 113600000, 34700000))
    tail = b"\x90" + be(3, 2) + b"\x01\x02\x03\x04\x05"
    data = t + b"\x02" + be(2, 2) + st + tail
    case("c07-gb17691-unparsed-tail", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "gb17691"),
              body={"time": iso, "blocks": [{"type": 2, "type_name": "stream", "serial": 2, "stream": st_j}],
                    "unparsed_tail": tail.hex().upper()},
              errors=["unparsed_tail"]), profile="gb17691")

    # Platform variant: an enterprise platform forwarding an hj1239 real-time frame (ack 0xFE), and
    # the receiving platform's acknowledgement (ack 0x01, platform time).
    st, st_j = stream_block(stream_raws(7), position(0, 113600000, 34700000))
    data = t + be(12, 2) + b"\x02" + t + st
    case("c08-platform-variant-realtime", frame(2, VIN, data, variant="platform", ack=0xFE),
         dict(header_json(2, "realtime", VIN, data, "hj1239", variant="platform", ack=0xFE),
              body={"time": iso, "serial": 12, "blocks": [
                  {"type": 2, "type_name": "stream", "time": iso, "stream": st_j}], "signature": None},
              errors=[]))
    t2, iso2 = tm(2026, 1, 2, 3, 4, 6)
    case("c09-platform-variant-ack", frame(2, VIN, t2, variant="platform", ack=0x01),
         dict(header_json(2, "realtime", VIN, t2, "gb17691", variant="platform", ack=0x01),
              body={"time": iso2}, errors=[]))

    # Non-road: login, ECD with two DTCs, a smoke-meter frame, the 18-byte removal alarm (0x05),
    # logout.
    t, iso = tm(2026, 4, 1, 7, 30, 0)
    iccid = "89860324123456789012"
    data = t + be(1, 2) + iccid.encode()
    case("c10-nonroad-login", frame(1, MACHINE, data),
         dict(header_json(1, "login", MACHINE, data, "nonroad"), body={"time": iso, "serial": 1, "iccid": iccid},
              errors=[]), profile="nonroad")
    pos, pos_j = position(0, 113702100, 34801200)
    ecd = bytes([2, 1, 2]) + be(0x0C7E0304, 4) + be(0x0D1A0201, 4)
    data = t + be(5, 2) + pos + b"\x01" + ecd
    case("c11-nonroad-ecd", frame(2, MACHINE, data),
         dict(header_json(2, "realtime", MACHINE, data, "nonroad"),
              body={"time": iso, "serial": 5, "position": pos_j, "blocks": [
                  {"type": 1, "type_name": "ecd", "ecd": {"protocol": 2, "mil": 1, "dtc_count": 2,
                                                           "dtcs": ["0C7E0304", "0D1A0201"]}}]},
              errors=[]), profile="nonroad")
    smk, smk_j = fixed_block(SMOKE, {"exhaust_temp_c": 455, "fault_code": 0, "back_pressure_kpa": 9,
                                     "k_m1": 162, "opacity_pct": 502, "pm_mg_m3": 233, "k_alarm": 1,
                                     "back_pressure_alarm": 0, "nox_ppm": 780})
    data = t + be(6, 2) + pos + b"\x81" + smk
    case("c12-nonroad-smoke", frame(2, MACHINE, data),
         dict(header_json(2, "realtime", MACHINE, data, "nonroad"),
              body={"time": iso, "serial": 6, "position": pos_j, "blocks": [
                  {"type": 0x81, "type_name": "smoke", "smoke": smk_j}]}, errors=[]), profile="nonroad")
    ms, ms_j = machine_stream_block(dict(stream_raws(2), speed_kmh=0, egr_actual_pct="invalid"))
    data = t + be(7, 2) + pos + b"\x02" + ms
    case("c13-nonroad-stream-working", frame(2, MACHINE, data),
         dict(header_json(2, "realtime", MACHINE, data, "nonroad"),
              body={"time": iso, "serial": 7, "position": pos_j, "blocks": [
                  {"type": 2, "type_name": "stream", "stream": ms_j}]}, errors=[]), profile="nonroad")
    rpos, rpos_j = position(1, 113702100, 34801200)
    data = t + be(8, 2) + rpos + b"\x01"
    case("c14-nonroad-removal-alarm", frame(5, MACHINE, data),
         dict(header_json(5, "removal_alarm", MACHINE, data, "nonroad"),
              body={"time": iso, "serial": 8, "position": rpos_j, "readable": False}, errors=[]),
         profile="nonroad")
    data = t + be(1, 2)
    case("c15-nonroad-logout", frame(4, MACHINE, data),
         dict(header_json(4, "logout", MACHINE, data, "nonroad"), body={"time": iso, "serial": 1}, errors=[]),
         profile="nonroad")

    # hj1239 activation (0x07): chip id, SM2 public key, VIN, signature.
    t, iso = tm(2026, 2, 1, 9, 0, 0)
    chip = "CHIP000000123456"
    key = bytes(range(0x10, 0x50))
    sig, sig_j = signature(bytes([0x11] * 32), bytes([0x22] * 32))
    data = t + chip.encode() + key + VIN.encode() + sig
    case("c16-hj1239-activation", frame(7, VIN, data),
         dict(header_json(7, "activation", VIN, data, "hj1239"),
              body={"time": iso, "chip_id": chip, "public_key": key.hex().upper(), "vin": VIN,
                    "signature": sig_j}, errors=[]))

    # hj1239 same-command reply to a login: the platform time alone.
    case("c17-hj1239-login-reply", frame(1, VIN, t),
         dict(header_json(1, "login", VIN, t, "gb17691"), body={"time": iso}, errors=[]))

    # Marked encrypted (SM2 under gb17691) with a body that is not plaintext.
    data = bytes(range(28, 28 + 40))
    case("c18-encrypted-unsupported", frame(1, VIN, data, enc=0x03),
         dict(header_json(1, "login", VIN, data, "gb17691", enc=3), body=None,
              errors=["encrypted_unsupported"]))

    # Marked encrypted, but plaintext after all (seen in OEM captures): decoded normally.
    data = t + be(2, 2) + b"89860012345678901234"
    case("c19-encryption-byte-plaintext-login", frame(1, VIN, data, enc=0x03),
         dict(header_json(1, "login", VIN, data, "gb17691", enc=3),
              body={"time": iso, "serial": 2, "iccid": "89860012345678901234"}, errors=[]))

    # A real-time body that neither gb17691 nor hj1239 reads exactly: ambiguous under `auto`.
    data = t + b"\x70\x00\x01" + bytes(20)
    case("c20-auto-ambiguous-layout", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, None), body=None, errors=["ambiguous_layout"]))

    # A VIN with non-printable bytes, and an invalid time in a logout.
    odd_vin = b"LGA\x01\x02" + b"X" * 12
    data = bytes([0, 0, 0, 0, 0, 0]) + be(3, 2)
    case("c21-binary-vin-invalid-time", frame(4, odd_vin, data),
         dict(header_json(4, "logout", {"hex": odd_vin.hex().upper()}, data, "gb17691"),
              body={"time": None, "serial": 3}, errors=[]), variants=["invalid_time"])

    # A user-defined command (0x90) carrying the largest data unit the protocol allows.
    data = bytes((i * 7) & 0xFF for i in range(65531))
    case("c22-max-size-user-defined", frame(0x90, VIN, data),
         dict(header_json(0x90, "user_defined", VIN, data, "gb17691"), body={"raw": data.hex().upper()},
              errors=[]))

    # hj1239 removal alarm with a valid fix in the southern and western hemispheres.
    t, iso = tm(2026, 8, 8, 8, 8, 8)
    pos, pos_j = position(0x06, 70123456, 12345678)
    data = t + be(4, 2) + pos
    case("c23-hj1239-removal-alarm-southwest", frame(6, VIN, data),
         dict(header_json(6, "removal_alarm", VIN, data, "hj1239"),
              body={"time": iso, "serial": 4, "position": pos_j}, errors=[]))

    # gb17691 real-time with OBD carrying three DTCs and IUPR counters.
    t, iso = tm(2026, 9, 9, 9, 9, 9)
    obd, obd_j = obd_block(VIN, [0x00C9A002, 0x0F2A1103, 0x00110104], mil=1,
                           iupr=[100, 120] + [i * 3 for i in range(16)])
    data = t + b"\x01" + be(1, 2) + obd
    case("c24-gb17691-obd-dtcs", frame(2, VIN, data),
         dict(header_json(2, "realtime", VIN, data, "gb17691"),
              body={"time": iso, "blocks": [{"type": 1, "type_name": "obd", "serial": 1, "obd": obd_j}]},
              errors=[]))


def build_structure_cases():
    # hj1239 in the platform header variant from a terminal whose clock is not set for its OBD
    # block (collection time all zeros): only the hj1239 layout consumes the data unit, so `auto`
    # reads it; the zero time is null and noted, the body is kept.
    t, iso = tm(2026, 10, 1, 6, 30, 0)
    obd, obd_j = obd_block(VIN, [0x00C9A002], iupr=[7] * 18)
    st, st_j = stream_block(stream_raws(11), position(0, 113600000, 34700000))
    data = t + be(13, 2) + b"\x01" + bytes(6) + obd + b"\x02" + t + st
    case("c25-hj1239-platform-obd-time-not-set", frame(2, VIN, data, variant="platform", ack=0xFE),
         dict(header_json(2, "realtime", VIN, data, "hj1239", variant="platform", ack=0xFE),
              body={"time": iso, "serial": 13, "blocks": [
                  {"type": 1, "type_name": "obd", "time": None, "obd": obd_j},
                  {"type": 2, "type_name": "stream", "time": iso, "stream": st_j}], "signature": None},
              errors=[]), variants=["invalid_time"])


def main():
    build()
    build_structure_cases()
    os.makedirs(OUT, exist_ok=True)
    for name, (raw, expected, profile) in CASES.items():
        with open(os.path.join(OUT, name + ".hex"), "w") as f:
            f.write(raw.hex().upper() + "\n")
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(expected, f, indent=1, ensure_ascii=False)
            f.write("\n")
        prof_path = os.path.join(OUT, name + ".profile")
        if profile:
            with open(prof_path, "w") as f:
                f.write(profile + "\n")
        elif os.path.exists(prof_path):
            os.remove(prof_path)
    print("wrote %d cases to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
