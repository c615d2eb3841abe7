package api

import (
	"sync"

	"github.com/loam-logs/loam/server/push"
)

var requestPool = sync.Pool{New: func() any { return new(push.Request) }}

func getRequest() *push.Request { return requestPool.Get().(*push.Request) }

func putRequest(r *push.Request) {
	r.Reset()
	requestPool.Put(r)
}
