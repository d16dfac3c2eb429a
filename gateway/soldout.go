package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/foyerhq/foyer/queue"
)

// stockPatch reads the stock fields of an admin PATCH (issue 14, sold-out honesty):
// "remaining" (a count, or null: unknown), "sold_out" (true: remaining 0; false: the stock is
// unknown again unless remaining is sent too) and "cap_follows_stock".
func stockPatch(body map[string]json.RawMessage, p *queue.SettingsPatch, bad map[string]string) {
	if raw, ok := body["remaining"]; ok {
		if string(raw) == "null" {
			n := int64(queue.RemainingUnknown)
			p.Remaining = &n
		} else {
			var v int64
			if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
				bad["remaining"] = "must be a whole number, at least 0 (or null: unknown)"
			} else {
				p.Remaining = &v
			}
		}
	}
	if raw, ok := body["sold_out"]; ok {
		var v bool
		switch err := json.Unmarshal(raw, &v); {
		case err != nil:
			bad["sold_out"] = "must be true or false"
		case v && p.Remaining != nil && *p.Remaining != 0, !v && p.Remaining != nil && *p.Remaining == 0:
			bad["sold_out"] = "contradicts remaining; send one of them"
		case v:
			n := int64(0)
			p.Remaining = &n
		case p.Remaining == nil:
			n := int64(queue.RemainingUnknown)
			p.Remaining = &n
		}
	}
	if raw, ok := body["cap_follows_stock"]; ok {
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			bad["cap_follows_stock"] = "must be true or false"
		} else {
			p.CapFollowsStock = &v
		}
	}
}

// reportStock records the stock a release call reports (nil: none reported).
func (s *Server) reportStock(ctx context.Context, rm *room, remaining *int64) error {
	if remaining == nil {
		return nil
	}
	if *remaining < 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "remaining must be at least 0",
			Fields: map[string]string{"remaining": "must be a whole number, at least 0"}}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Redis.Timeout)
	defer cancel()
	changed, err := s.engine.ReportStock(cctx, rm.cfg.Name, *remaining)
	if err != nil {
		var ve *queue.ValidationError
		if errors.As(err, &ve) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "remaining is out of range", Fields: ve.Fields}
		}
		return s.storeErr("report_stock", err)
	}
	if changed {
		s.log.Info().Str("room", rm.cfg.Name).Int64("remaining", *remaining).Msg("stock reported")
	}
	return nil
}
