package queue

import (
	"context"
	"slices"
	"strconv"
	"testing"
)

// zsetInts returns a zset's members as sorted integers.
func zsetInts(t testing.TB, b backend, key string) []int64 {
	t.Helper()
	ms, err := b.rdb.ZRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(ms))
	for i, m := range ms {
		if out[i], err = strconv.ParseInt(m, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}
