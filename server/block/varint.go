package block

import "encoding/binary"

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }
func appendVarint(dst []byte, v int64) []byte   { return binary.AppendVarint(dst, v) }

func readUvarint(src []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(src)
	if n <= 0 {
		return 0, src, false
	}
	return v, src[n:], true
}

func readVarint(src []byte) (int64, []byte, bool) {
	v, n := binary.Varint(src)
	if n <= 0 {
		return 0, src, false
	}
	return v, src[n:], true
}

// readBytes reads a uvarint length and that many bytes.
func readBytes(src []byte) ([]byte, []byte, bool) {
	n, rest, ok := readUvarint(src)
	if !ok || n > uint64(len(rest)) {
		return nil, src, false
	}
	return rest[:n], rest[n:], true
}

func appendBytes(dst, b []byte) []byte {
	dst = appendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = appendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
