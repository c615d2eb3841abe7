package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// The gossip encoding of a Desc, both for push/pull of the whole state and
// for broadcasts of single entries:
//
//	desc   = version:1 count:uvarint member*count      (members by ascending name)
//	member = name:str addr:str gossipAddr:str state:1 heartbeat:8 (big endian)
//	         ntokens:uvarint token*ntokens              (4 bytes each, big endian, ascending)
//	str    = len:uvarint bytes
//
// It is about a third of the size of the same state in JSON (tokens are
// random 32-bit numbers: 4 bytes here, 10 or 11 as JSON text), which matters
// because a broadcast must fit in one UDP packet.
const (
	codecVersion = 1

	maxStringLen = 1024 // a name or an address
	maxMembers   = 1 << 16
	minMemberLen = 3 + 1 + 8 + 1 // three empty strings, state, heartbeat, token count
)

var errTruncated = errors.New("ring state: truncated")

// AppendDesc appends the encoding of d to b.
func AppendDesc(b []byte, d Desc) []byte {
	names := make([]string, 0, len(d))
	for name := range d {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendMember(b, d[name])
	}
	return b
}

func appendMember(b []byte, m Member) []byte {
	b = appendString(b, m.Name)
	b = appendString(b, m.Addr)
	b = appendString(b, m.GossipAddr)
	b = append(b, byte(m.State))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Heartbeat))
	b = binary.AppendUvarint(b, uint64(len(m.Tokens)))
	for _, t := range m.Tokens {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeDesc decodes what AppendDesc wrote. It checks everything a peer
// could get wrong: the version, lengths, states, that members and tokens
// ascend (so that none appears twice), and that nothing follows.
func DecodeDesc(b []byte) (Desc, error) {
	if len(b) == 0 {
		return nil, errTruncated
	}
	if b[0] != codecVersion {
		return nil, fmt.Errorf("ring state: unknown encoding version %d", b[0])
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errTruncated
	}
	b = b[k:]
	if n > maxMembers || n > uint64(len(b)/minMemberLen) {
		return nil, fmt.Errorf("ring state: %d members do not fit in %d bytes", n, len(b))
	}
	d := make(Desc, n)
	prev := ""
	for range n {
		var m Member
		var err error
		if m, b, err = decodeMember(b); err != nil {
			return nil, err
		}
		if m.Name <= prev {
			return nil, fmt.Errorf("ring state: member %q after %q: members do not ascend by name", m.Name, prev)
		}
		prev = m.Name
		d[m.Name] = m
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("ring state: %d bytes after the last member", len(b))
	}
	return d, nil
}

func decodeMember(b []byte) (m Member, rest []byte, err error) {
	if m.Name, b, err = decodeString(b); err != nil {
		return m, nil, err
	}
	if m.Name == "" {
		return m, nil, errors.New("ring state: a member without a name")
	}
	if m.Addr, b, err = decodeString(b); err != nil {
		return m, nil, err
	}
	if m.GossipAddr, b, err = decodeString(b); err != nil {
		return m, nil, err
	}
	if len(b) < 9 {
		return m, nil, errTruncated
	}
	m.State = State(b[0])
	if !m.State.Valid() {
		return m, nil, fmt.Errorf("ring state: member %q has invalid state %d", m.Name, b[0])
	}
	m.Heartbeat = int64(binary.BigEndian.Uint64(b[1:9]))
	b = b[9:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return m, nil, errTruncated
	}
	b = b[k:]
	if n > MaxTokens || n*4 > uint64(len(b)) {
		return m, nil, fmt.Errorf("ring state: member %q: %d tokens do not fit in %d bytes", m.Name, n, len(b))
	}
	if n > 0 {
		m.Tokens = make([]uint32, n)
		for i := range m.Tokens {
			m.Tokens[i] = binary.BigEndian.Uint32(b[4*i:])
			if i > 0 && m.Tokens[i] <= m.Tokens[i-1] {
				return m, nil, fmt.Errorf("ring state: member %q: tokens do not ascend", m.Name)
			}
		}
		b = b[4*n:]
	}
	return m, b, nil
}

func decodeString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return "", nil, errTruncated
	}
	b = b[k:]
	if n > maxStringLen || n > uint64(len(b)) {
		return "", nil, fmt.Errorf("ring state: a string of %d bytes (at most %d, %d left)", n, maxStringLen, len(b))
	}
	s := b[:n]
	if !utf8.Valid(s) {
		return "", nil, errors.New("ring state: a name or address is not UTF-8")
	}
	return string(s), b[n:], nil
}
