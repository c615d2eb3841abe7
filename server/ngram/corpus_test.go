package ngram

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Synthetic but realistic log corpora for the property tests and the
// measurements. Every generator is deterministic for a given seed.

const hexDigits = "0123456789abcdef"

func randHex(r *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(hexDigits[r.IntN(16)])
	}
	return b.String()
}

func randUUID(r *rand.Rand) string {
	h := randHex(r, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + h[16:20] + "-" + h[20:]
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

var (
	levels   = []string{"info", "info", "info", "info", "debug", "debug", "warn", "error"}
	messages = []string{
		"request served", "request served", "request served", "cache miss",
		"upstream retry", "slow query", "token refreshed", "rate limited",
		"connection reset by peer", "user logged in", "payment accepted",
	}
	methods = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	paths   = []string{
		"/v1/users/%d", "/v1/orders/%d/items", "/v1/search?q=item%d",
		"/healthz", "/v2/carts/%d", "/static/app.%d.js", "/v1/users/%d/settings",
	}
	statuses = []int{200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503}
	services = []string{"api-gateway", "checkout", "billing", "search", "auth"}
)

func formatPath(r *rand.Rand) string {
	p := pick(r, paths)
	if strings.Contains(p, "%d") {
		return fmt.Sprintf(p, r.IntN(10000))
	}
	return p
}

// jsonLine is the access log of the brief: ~200 bytes with a random 32-hex
// request id, a timestamp and a few numbers.
func jsonLine(r *rand.Rand, i int) string {
	return fmt.Sprintf(`{"ts":"2025-11-22T04:%02d:%02d.%06dZ","level":%q,"msg":%q,"service":%q,"method":%q,"path":%q,"status":%d,"duration":"%.1fms","request_id":"%s","user":%d}`,
		(i/3000)%60, (i/50)%60, r.IntN(1000000), pick(r, levels), pick(r, messages), pick(r, services),
		pick(r, methods), formatPath(r), pick(r, statuses), r.Float64()*200, randHex(r, 32), r.IntN(5000))
}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	"curl/8.4.0",
	"Go-http-client/1.1",
	"kube-probe/1.28",
}

// nginxLine is the combined log format.
func nginxLine(r *rand.Rand, i int) string {
	return fmt.Sprintf(`10.%d.%d.%d - - [22/Nov/2025:04:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "-" "%s"`,
		r.IntN(4), r.IntN(256), r.IntN(256), (i/3000)%60, (i/50)%60, pick(r, methods), formatPath(r),
		pick(r, statuses), r.IntN(50000), pick(r, agents))
}

var (
	klogFiles = []string{"controller.go", "reconciler.go", "leaderelection.go", "cache.go", "client.go"}
	klogMsgs  = []string{"Reconciled object", "Updating status", "Watch closed", "Successfully acquired lease", "Failed to sync"}
)

// klogLine is a Kubernetes component line with a pod name and a UUID.
func klogLine(r *rand.Rand, i int) string {
	return fmt.Sprintf(`%c1122 04:%02d:%02d.%06d   %d %s:%d] %q pod="default/web-%s-%s" uid=%q`,
		"IIIWE"[r.IntN(5)], (i/3000)%60, (i/50)%60, r.IntN(1000000), 1+r.IntN(3),
		pick(r, klogFiles), 10+r.IntN(900), pick(r, klogMsgs), randHex(r, 10), randHex(r, 5), randUUID(r))
}

var unicodeWords = []string{"日志", "错误", "ошибка", "запрос", "überprüft", "señal", "😀", "🔥", "ñandú", "κόσμε", "tiempo"}

// unicodeLine mixes multi-byte text with ASCII.
func unicodeLine(r *rand.Rand, i int) string {
	var b strings.Builder
	for range 4 + r.IntN(12) {
		b.WriteString(pick(r, unicodeWords))
		b.WriteByte(' ')
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "%d ", r.IntN(100000))
		}
	}
	return b.String()
}

// randomLine is arbitrary bytes, including zero bytes and newlines.
func randomLine(r *rand.Rand, i int) string {
	b := make([]byte, r.IntN(64))
	for j := range b {
		if r.IntN(3) == 0 {
			b[j] = byte(r.IntN(4)) // a tiny alphabet, so grams repeat
		} else {
			b[j] = byte(r.IntN(256))
		}
	}
	return string(b)
}

type corpus struct {
	name string
	gen  func(r *rand.Rand, i int) string
}

var corpora = []corpus{
	{"json", jsonLine},
	{"nginx", nginxLine},
	{"klog", klogLine},
	{"unicode", unicodeLine},
	{"random", randomLine},
}

func genLines(gen func(*rand.Rand, int) string, seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 0x10a4))
	out := make([]string, n)
	for i := range out {
		out[i] = gen(r, i)
	}
	return out
}

// englishWords are 7-letter words, the shape of a typical `|= "timeout"`.
// None of them occurs in the generated corpora (checked by the measurement).
var englishWords = []string{
	"timeout", "refused", "corrupt", "invalid", "blocked", "captain", "balance", "cabinet",
	"dancing", "eastern", "factory", "gallery", "harvest", "imagine", "journey", "kitchen",
	"lecture", "machine", "natural", "officer", "package", "quality", "railway", "science",
	"teacher", "uniform", "variety", "weather", "younger", "zealous", "account", "battery",
	"chronic", "digital", "element", "fiction", "genuine", "history", "illness", "justice",
	"kingdom", "liberty", "monster", "neutral", "organic", "partner", "quarter", "reverse",
	"serious", "tension", "unknown", "village", "warning", "worried", "example", "network",
	"storage", "cluster", "deleted", "dropped", "expired", "exhaust", "mapping", "evicted",
}
