package extract

import (
	"context"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// Unextracted lists up to limit open conversations whose last customer message came between
// since and quietBefore and that no extraction has read (the debounced task was lost with
// Redis): the sweep enqueues their extraction (ReasonMessage) again. Issue 12 item 8: a
// debounced extraction is derived from the database, never only from Redis.
func (x *Extractor) Unextracted(ctx context.Context, quietBefore, since time.Time, limit int) ([]store.ConversationRef, error) {
	return x.Store.UnextractedConversations(ctx, quietBefore, since, limit)
}
