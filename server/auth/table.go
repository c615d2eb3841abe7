package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Reason is why a request was refused: the label of
// loam_auth_failures_total.
type Reason string

const (
	ReasonMissing      Reason = "missing"       // no Authorization header
	ReasonMalformed    Reason = "malformed"     // one that does not parse
	ReasonUnknownUser  Reason = "unknown_user"  // basic auth, no such user
	ReasonBadPassword  Reason = "bad_password"  // basic auth, wrong password
	ReasonUnknownToken Reason = "unknown_token" // bearer token of no entry
	ReasonRoleDenied   Reason = "role_denied"   // the role may not use the route
	ReasonTenantDenied Reason = "tenant_denied" // X-Scope-OrgID not among its tenants
	ReasonNoTenant     Reason = "tenant_missing"
	ReasonMetricsToken Reason = "metrics_token" // /metrics without its token
)

// Table is a compiled auth file: who may present which credential. It is
// immutable but for its cache, and safe for concurrent use.
type Table struct {
	users  map[string]*user
	tokens []token
	cache  cache
}

type user struct {
	id   *Identity
	hash []byte // bcrypt
}

type token struct {
	id  *Identity
	sum [sha256.Size]byte
}

func newTable() *Table {
	t := &Table{users: map[string]*user{}}
	t.cache.init(defaultCacheSize)
	return t
}

// Len is the number of users and tokens.
func (t *Table) Len() (users, tokens int) { return len(t.users), len(t.tokens) }

// verify returns the identity of c, or why it is refused. slots bounds the
// bcrypt checks running at once (nil: no bound).
func (t *Table) verify(c Credential, slots chan struct{}) (*Identity, Reason) {
	switch c.Kind {
	case Basic:
		return t.verifyBasic(c.User, c.Password, slots)
	case Bearer:
		return t.verifyToken(c.Token)
	}
	return nil, ReasonMissing
}

func (t *Table) verifyBasic(name, password string, slots chan struct{}) (*Identity, Reason) {
	key := t.cache.key(name, password)
	if id := t.cache.get(key); id != nil {
		return id, ""
	}
	if slots != nil {
		slots <- struct{}{}
		defer func() { <-slots }()
	}
	u := t.users[name]
	if u == nil {
		// Spend the time a known user costs, so that the answer's delay
		// does not tell which user names exist.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ReasonUnknownUser
	}
	if bcrypt.CompareHashAndPassword(u.hash, []byte(password)) != nil {
		return nil, ReasonBadPassword
	}
	t.cache.put(key, u.id)
	return u.id, ""
}

// verifyToken compares the token's SHA-256 with every entry's, each in
// constant time: the cost does not depend on which entry, if any, matches.
func (t *Table) verifyToken(tok string) (*Identity, Reason) {
	sum := sha256.Sum256([]byte(tok))
	var found *Identity
	for i := range t.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.tokens[i].sum[:]) == 1 {
			found = t.tokens[i].id
		}
	}
	if found == nil {
		return nil, ReasonUnknownToken
	}
	return found, ""
}

var dummy struct {
	once sync.Once
	hash []byte
}

// dummyHash is a bcrypt hash of the default cost, made once.
func dummyHash() []byte {
	dummy.once.Do(func() {
		dummy.hash, _ = bcrypt.GenerateFromPassword([]byte("loam: no such user"), bcrypt.DefaultCost)
	})
	return dummy.hash
}

// defaultCacheSize bounds the verified basic credentials a Table keeps:
// far more than the clients of a server, few enough to be small (an entry
// is a 32-byte key and a pointer).
const defaultCacheSize = 4096

// cache maps an HMAC of a verified user:password, under a key drawn at
// random for its Table, to its identity. The key makes the map useless to
// whoever could read the memory of the process or time its lookups: it
// holds no password nor any unkeyed hash of one. Safe for concurrent use.
type cache struct {
	secret [32]byte
	max    int
	mu     sync.RWMutex
	m      map[[sha256.Size]byte]*Identity
}

func (c *cache) init(max int) {
	rand.Read(c.secret[:]) // never fails (crypto/rand panics rather)
	c.max = max
	c.m = make(map[[sha256.Size]byte]*Identity)
}

func (c *cache) key(name, password string) [sha256.Size]byte {
	h := hmac.New(sha256.New, c.secret[:])
	h.Write([]byte(name))
	h.Write([]byte{':'}) // user names hold no ':'
	h.Write([]byte(password))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *cache) get(k [sha256.Size]byte) *Identity {
	c.mu.RLock()
	id := c.m[k]
	c.mu.RUnlock()
	return id
}

func (c *cache) put(k [sha256.Size]byte, id *Identity) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Full: drop an entry (Go's map order is random). A credential
		// dropped costs one bcrypt check when next presented.
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = id
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
