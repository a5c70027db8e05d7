#!/usr/bin/env python3
"""Generate src/core/encoding/gbk_decode.bin from Python's own `gbk` codec.

Run by hand from the repository root when the table needs regenerating:

    python3 tools/gen_gbk.py

The build never runs this script: the output is committed and embedded with
`include_bytes!`, so the crate builds without Python.

Output format (48,132 bytes): for every lead byte 0x81..=0xFE (126 rows) and
every trail byte 0x40..=0xFE (191 columns, 0x7F included so rows are plain
arrays), one little-endian u16 holding the decoded BMP code point, or 0 when
Python rejects the pair. 0 is free as a sentinel because the smallest code
point a GBK pair decodes to is U+00A4.

What Python's codec does (checked with CPython 3.11, asserted below):
- Every byte 0x00..=0x7F decodes to itself.
- No single byte 0x80..=0xFF decodes: b'\\x80'.decode('gbk') raises, and
  '\\u20ac' (euro) cannot be encoded. Windows code page 936 maps 0x80 to the
  euro sign, but Python's gbk (which 'cp936' is only an alias of) does not,
  so neither do we.
- Exactly 21,791 two-byte sequences decode, each to one BMP character, and the
  mapping is one-to-one: encoding each character gives back its pair, and no
  other non-ASCII character is encodable. The encoder can therefore be the
  inverse of this table.
"""

import codecs
import os
import struct
import sys

LEADS = range(0x81, 0xFF)
TRAILS = range(0x40, 0xFF)
EXPECTED_PAIRS = 21791
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "encoding", "gbk_decode.bin")


def main():
    assert codecs.lookup("cp936").name == "gbk", "cp936 is expected to alias gbk"

    for b in range(0x80):
        assert bytes([b]).decode("gbk") == chr(b)
    for b in range(0x80, 0x100):
        try:
            bytes([b]).decode("gbk")
        except UnicodeDecodeError:
            continue
        sys.exit("single byte 0x%02X decodes; the Rust decoder assumes none do" % b)

    table = []
    seen = {}
    for lead in LEADS:
        for trail in TRAILS:
            pair = bytes([lead, trail])
            cp = 0
            if trail != 0x7F:
                try:
                    text = pair.decode("gbk")
                except UnicodeDecodeError:
                    text = None
                if text is not None:
                    assert len(text) == 1, (pair, text)
                    cp = ord(text)
                    assert 0x80 <= cp <= 0xFFFF, (pair, hex(cp))
                    assert cp not in seen, ("two pairs decode to U+%04X" % cp, pair, seen[cp])
                    assert text.encode("gbk") == pair, (pair, text)
                    seen[cp] = pair
            table.append(cp)

    assert len(seen) == EXPECTED_PAIRS, len(seen)

    # The encoder is built as the inverse of the decode table; make sure no
    # character outside it is encodable (that would need a separate list).
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in seen:
            continue
        try:
            chr(cp).encode("gbk")
        except UnicodeEncodeError:
            continue
        sys.exit("U+%04X encodes but is not in the decode table" % cp)

    data = struct.pack("<%dH" % len(table), *table)
    assert len(data) == len(LEADS) * len(TRAILS) * 2
    with open(OUT, "wb") as f:
        f.write(data)
    print("wrote %s: %d bytes, %d pairs (Python %s)" % (os.path.normpath(OUT), len(data), len(seen), sys.version.split()[0]))


if __name__ == "__main__":
    main()
