package integration

import (
	"sync"
	"time"
)

// webhookCacheTTL bounds how long a cached integration is trusted without
// news of a change (a replica that missed a notification while its
// listener reconnected forgets everything anyway).
const webhookCacheTTL = time.Minute

// webhookCache keeps the integrations that webhooks arrive for, by token,
// so that a webhook does not read its integration from the database each
// time. Every change to an integration empties it on every replica (see
// Service.change). The generation keeps a lookup that raced with a change
// from caching what it read before the change.
type webhookCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedIntegration
}

type cachedIntegration struct {
	i  Integration
	at time.Time
}

func (c *webhookCache) get(token string) (Integration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[token]
	if !ok || time.Since(e.at) > webhookCacheTTL {
		return Integration{}, false
	}
	return e.i, true
}

func (c *webhookCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches i unless the cache was emptied since gen was read.
func (c *webhookCache) put(token string, i Integration, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedIntegration{}
	}
	c.m[token] = cachedIntegration{i: i, at: time.Now()}
}

func (c *webhookCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
