package block

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// IndexCacheBytes bounds the memory the readers of this process spend on
// decompressed index pages (the stream table and postings of version 4
// blocks). The least recently used pages go first; a page a query still
// holds stays valid, it is only no longer counted. Zero caches nothing.
var IndexCacheBytes atomic.Int64

// DefaultIndexCacheBytes is IndexCacheBytes unless set.
const DefaultIndexCacheBytes = 64 << 20

func init() { IndexCacheBytes.Store(DefaultIndexCacheBytes) }

// IndexCacheUsed returns the bytes the index cache holds and its pages.
func IndexCacheUsed() (bytes int64, pages int) {
	indexCache.mu.Lock()
	defer indexCache.mu.Unlock()
	return indexCache.used, indexCache.lru.Len()
}

// cacheKey names a page: the reader (each open gets a new id, so a
// reopened block never sees pages of the file it was before), the section
// and the page's number in it.
type cacheKey struct {
	reader  uint64
	section uint32
	page    uint32
}

type cacheEntry struct {
	key  cacheKey
	pg   *indexPage
	size int64
}

// pageCache is an LRU of index pages bounded in bytes. Safe for concurrent
// use.
type pageCache struct {
	mu        sync.Mutex
	m         map[cacheKey]*list.Element
	lru       list.List // of *cacheEntry, most recent first
	used      int64
	perReader map[uint64]int // entries of each reader, so that Close finds none quickly
}

var indexCache = &pageCache{m: map[cacheKey]*list.Element{}, perReader: map[uint64]int{}}

// readerIDs numbers the readers opened by this process.
var readerIDs atomic.Uint64

func (c *pageCache) get(k cacheKey) *indexPage {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).pg
}

// put adds pg under k, unless another goroutine did first: the page kept is
// returned. Pages beyond the budget are evicted, least recently used
// first; a page bigger than the whole budget is not kept.
func (c *pageCache) put(k cacheKey, pg *indexPage) *indexPage {
	size := pg.size()
	budget := IndexCacheBytes.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[k]; e != nil {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).pg
	}
	if size > budget {
		return pg
	}
	c.m[k] = c.lru.PushFront(&cacheEntry{key: k, pg: pg, size: size})
	c.used += size
	c.perReader[k.reader]++
	for c.used > budget {
		c.remove(c.lru.Back())
	}
	return pg
}

func (c *pageCache) remove(e *list.Element) {
	ce := e.Value.(*cacheEntry)
	c.lru.Remove(e)
	delete(c.m, ce.key)
	c.used -= ce.size
	if c.perReader[ce.key.reader]--; c.perReader[ce.key.reader] == 0 {
		delete(c.perReader, ce.key.reader)
	}
}

// drop removes the pages of a reader being closed.
func (c *pageCache) drop(reader uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil && c.perReader[reader] > 0; {
		next := e.Next()
		if e.Value.(*cacheEntry).key.reader == reader {
			c.remove(e)
		}
		e = next
	}
}
