package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Redis topologies of redis.mode.
const (
	// RedisAuto decides from the configuration: Sentinel with master_name, a cluster with
	// several addrs, and with one addr whatever the seed says it is (INFO cluster).
	RedisAuto = "auto"
	// RedisSingle is one server (possibly behind a proxy).
	RedisSingle = "single"
	// RedisCluster is a Redis Cluster reached through its seeds (or a configuration endpoint).
	RedisCluster = "cluster"
	// RedisSentinel is a master found through Sentinel (addrs are the sentinels).
	RedisSentinel = "sentinel"
)

// seedProbeFor bounds how long OpenStore keeps asking a single seed what it is.
const seedProbeFor = 10 * time.Second

// OpenStore connects to Redis as configured: a URL, a cluster (addrs, or one seed that says it
// is a cluster node), Sentinel (addrs + master_name), or an embedded single-node server for
// demos. Every binary that runs a gateway uses it, so all of them build the same client.
//
// Deadlines: every call gets its deadline from its context (the engine gives each call
// redis.timeout, a coalesced join twice that); the socket deadlines are a backstop four times
// longer, so a slow but living Redis gives a slower answer rather than an error.
func OpenStore(ctx context.Context, c RedisConfig, log zerolog.Logger) (redis.UniversalClient, func(), error) {
	log = log.With().Str("component", "store").Logger()
	if c.Embedded {
		mr, err := miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("embedded redis: %w", err)
		}
		log.Warn().Str("addr", mr.Addr()).Msg("using the embedded Redis-compatible server: single node, in memory, not durable; for demos only")
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return rdb, func() { _ = rdb.Close(); mr.Close() }, nil
	}
	mode, err := storeMode(ctx, c, log)
	if err != nil {
		return nil, nil, err
	}
	backstop := max(4*c.Timeout, 2*time.Second)
	var rdb redis.UniversalClient
	switch mode {
	case RedisSentinel:
		rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: c.MasterName, SentinelAddrs: c.Addrs,
			Password: c.Password, DialTimeout: 2 * time.Second, ReadTimeout: backstop, WriteTimeout: backstop,
			ContextTimeoutEnabled: true, PoolSize: 64})
	case RedisCluster:
		opt := &redis.ClusterOptions{Addrs: c.Addrs, Password: c.Password}
		if len(c.Addrs) == 0 {
			if opt, err = redis.ParseClusterURL(c.URL); err != nil {
				return nil, nil, fmt.Errorf("redis.url: %w", err)
			}
			if opt.Password == "" {
				opt.Password = c.Password // a URL without one: redis.password(_file) or FOYER_REDIS_PASSWORD
			}
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, backstop, backstop
		opt.ContextTimeoutEnabled, opt.PoolSize = true, 64
		rdb = redis.NewClusterClient(opt)
	default:
		opt := &redis.Options{Password: c.Password}
		if len(c.Addrs) > 0 {
			opt.Addr = c.Addrs[0]
		} else if opt, err = redis.ParseURL(c.URL); err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		} else if opt.Password == "" {
			opt.Password = c.Password // a URL without one: redis.password(_file) or FOYER_REDIS_PASSWORD
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, backstop, backstop
		opt.ContextTimeoutEnabled, opt.PoolSize = true, 64
		rdb = redis.NewClient(opt)
	}
	log.Info().Str("mode", mode).Msg("redis client")
	return rdb, func() { _ = rdb.Close() }, nil
}

// storeMode is the topology to build a client for: redis.mode when it is explicit, else what
// the configuration implies, asking a lone seed when it does not say.
func storeMode(ctx context.Context, c RedisConfig, log zerolog.Logger) (string, error) {
	switch {
	case c.Mode != "" && c.Mode != RedisAuto:
		return c.Mode, nil
	case c.MasterName != "":
		return RedisSentinel, nil
	case len(c.Addrs) > 1:
		return RedisCluster, nil
	case len(c.Addrs) == 0:
		return RedisSingle, nil
	}
	// One seed: a single server, or a cluster's configuration endpoint. Ask it; a cluster
	// answered by a plain client would fail on the first MOVED.
	seed := redis.NewClient(&redis.Options{Addr: c.Addrs[0], Password: c.Password, DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second, MaxRetries: -1, PoolSize: 1})
	defer seed.Close()
	pctx, cancel := context.WithTimeout(ctx, seedProbeFor)
	defer cancel()
	for {
		info, err := seed.Info(pctx, "cluster").Result()
		if err == nil {
			if strings.Contains(info, "cluster_enabled:1") {
				return RedisCluster, nil
			}
			return RedisSingle, nil
		}
		log.Warn().Err(err).Str("addr", c.Addrs[0]).Msg("cannot ask the Redis seed whether it is a cluster yet; retrying")
		select {
		case <-pctx.Done():
			return "", fmt.Errorf("redis.addrs: %s did not answer within %s, so whether it is a cluster is unknown: set redis.mode (single or cluster): %w",
				c.Addrs[0], seedProbeFor, errors.Join(err, pctx.Err()))
		case <-time.After(500 * time.Millisecond):
		}
	}
}
