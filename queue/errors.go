package queue

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors callers branch on with errors.Is. Every error the package returns wraps one of
// them or a ValidationError.
var (
	// ErrRoomClosed means the room takes no one: it was closed by its organiser.
	ErrRoomClosed = errors.New("queue: room closed")
	// ErrRoomPaused means admissions are paused; the line keeps its order.
	ErrRoomPaused = errors.New("queue: room paused")
	// ErrRoomScheduled means the pre-queue has not opened yet: no tickets are issued.
	ErrRoomScheduled = errors.New("queue: room not open yet")
	// ErrNotYourTurn means the ticket's place has not been reached, or the visitor is back from
	// an absence and waits in the returning line.
	ErrNotYourTurn = errors.New("queue: not your turn")
	// ErrTicketSpent means the ticket was already used (its lease ended) or its place lapsed
	// (skipped and not back within the grace period). The visitor must join again.
	ErrTicketSpent = errors.New("queue: ticket spent")
	// ErrBadTicket means a ticket failed to decode: malformed, oversized, tampered, signed by an
	// unknown key or for another room.
	ErrBadTicket = errors.New("queue: bad ticket")
	// ErrBeyondIssued means a correctly signed ticket carries a number the room cannot accept.
	ErrBeyondIssued = errors.New("queue: ticket number beyond the issued range")
	// ErrUnknownRoom means the room does not exist in the store (and this engine has no copy).
	ErrUnknownRoom = errors.New("queue: unknown room")
	// ErrInvalidRoomName means a room name outside [a-z0-9-]{1,64}.
	ErrInvalidRoomName = errors.New("queue: invalid room name")
	// ErrVersionConflict means UpdateSettings was asked for a version that is no longer current.
	ErrVersionConflict = errors.New("queue: settings version conflict")
	// ErrUnknownLease means no live lease has that id (never issued, released or expired).
	ErrUnknownLease = errors.New("queue: unknown lease")
	// ErrStoreUnavailable wraps every Redis failure and timeout.
	ErrStoreUnavailable = errors.New("queue: store unavailable")
	// ErrBusy means the call was shed: more work is waiting for Redis than can be done in
	// time. Nothing was changed; try again shortly.
	ErrBusy = errors.New("queue: busy")
)

// ValidationError lists every invalid field of a settings change at once, keyed by the field's
// JSON name (rate_per_minute, max_active, ...).
type ValidationError struct {
	Fields map[string]string
}

// Error joins the field messages in field order.
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("queue: invalid settings: ")
	for i, k := range names {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteString(" ")
		b.WriteString(e.Fields[k])
	}
	return b.String()
}

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// storeErr wraps a Redis failure as ErrStoreUnavailable, keeping the cause readable.
func storeErr(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrStoreUnavailable, err)
}
