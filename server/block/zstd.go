package block

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Level is the zstd effort used for chunk lines.
type Level = zstd.EncoderLevel

// Levels, re-exported so callers need not import zstd.
const (
	LevelFastest = zstd.SpeedFastest
	LevelDefault = zstd.SpeedDefault
	LevelBetter  = zstd.SpeedBetterCompression
	LevelBest    = zstd.SpeedBestCompression
)

// ParseLevel maps a flag value to a Level.
func ParseLevel(s string) (Level, bool) {
	ok, l := zstd.EncoderLevelFromString(s)
	return l, ok
}

var (
	encMu    sync.Mutex
	encoders = map[Level]*zstd.Encoder{}

	decOnce sync.Once
	decoder *zstd.Decoder
)

// encoder returns a shared encoder of level l; EncodeAll is safe for
// concurrent use.
func encoder(l Level) *zstd.Encoder {
	encMu.Lock()
	defer encMu.Unlock()
	e := encoders[l]
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderCRC(true),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
		if err != nil {
			panic(err) // only invalid options fail
		}
		encoders[l] = e
	}
	return e
}

// maxFrameSize bounds what a (possibly corrupt) frame may expand to.
const maxFrameSize = 256 << 20

func zstdDecoder() *zstd.Decoder {
	decOnce.Do(func() {
		var err error
		decoder, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxFrameSize))
		if err != nil {
			panic(err)
		}
	})
	return decoder
}
