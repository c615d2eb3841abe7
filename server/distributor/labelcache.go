package distributor

import (
	"sync"

	"github.com/loam-logs/loam/server/labels"
)

// labelCache maps the label text of a pushed stream to its parsed and
// validated labels (or why they are refused). Clients send the same label
// sets push after push, but streams also come and go with every pod: the
// cache holds at most about maxBytes, in two generations. New entries go
// to the current one; when it holds half the bytes, it becomes the old one
// and the old one is dropped; a hit in the old generation moves the entry
// back to the current one. Label sets in use thus stay, those of streams
// gone leave within two generations, and no lookup takes the write lock
// while the label sets in use fit. Safe for concurrent use.
type labelCache struct {
	maxBytes int64

	mu       sync.RWMutex
	cur, old map[string]cachedLabels
	curBytes int64
}

type cachedLabels struct {
	ls  labels.Labels
	err error
}

// labelCacheBytes bounds the distributor's label cache: tens of thousands
// of typical label sets.
const labelCacheBytes = 8 << 20

func newLabelCache(maxBytes int64) *labelCache {
	return &labelCache{maxBytes: maxBytes, cur: map[string]cachedLabels{}, old: map[string]cachedLabels{}}
}

// entrySize is about what an entry costs: its key, its labels (whose
// strings share the key's memory, see parseLabels) and the map's slot.
func entrySize(text string, c cachedLabels) int64 {
	return int64(len(text)) + 32*int64(len(c.ls)) + 96
}

func (lc *labelCache) get(text string) (cachedLabels, bool) {
	lc.mu.RLock()
	c, ok := lc.cur[text]
	if ok {
		lc.mu.RUnlock()
		return c, true
	}
	c, ok = lc.old[text]
	lc.mu.RUnlock()
	if ok {
		// In use again: back to the current generation.
		lc.mu.Lock()
		if _, still := lc.old[text]; still {
			delete(lc.old, text)
			lc.addLocked(text, c)
		}
		lc.mu.Unlock()
	}
	return c, ok
}

// put adds an entry; text must not alias memory that is reused.
func (lc *labelCache) put(text string, c cachedLabels) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if _, ok := lc.cur[text]; !ok {
		lc.addLocked(text, c)
	}
}

func (lc *labelCache) addLocked(text string, c cachedLabels) {
	size := entrySize(text, c)
	if lc.curBytes+size > lc.maxBytes/2 && len(lc.cur) > 0 {
		lc.old, lc.cur, lc.curBytes = lc.cur, map[string]cachedLabels{}, 0
	}
	lc.cur[text] = c
	lc.curBytes += size
}

// len returns the entries held, in both generations.
func (lc *labelCache) len() int {
	lc.mu.RLock()
	defer lc.mu.RUnlock()
	return len(lc.cur) + len(lc.old)
}
