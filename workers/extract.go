package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/store"
)

// Variable extraction task types.
const (
	TypeConversationExtract = "conversation:extract"
	TypeExtractionSweep     = "extraction:sweep"
)

// DefaultExtractDebounce is the length of the debounce window of extraction: every customer
// message of one window shares one task, which runs ExtractGrace after the window ends (so a
// few seconds after the burst).
const (
	DefaultExtractDebounce = 5 * time.Second
	ExtractGrace           = 2 * time.Second
)

// ExtractPayload names one extraction.
type ExtractPayload struct {
	WorkspaceID    int64  `json:"workspace_id"`
	ConversationID int64  `json:"conversation_id"`
	Reason         string `json:"reason"`          // extract.ReasonMessage, ReasonEnded, ReasonRerun
	Token          string `json:"token,omitempty"` // a rerun's own id
	// RequestID is the web request (webhook, widget or Test Chat message) that caused the
	// extraction, for the logs; the first of a debounced burst wins.
	RequestID string `json:"request_id,omitempty"`
}

// Extract builds the extraction task of a conversation.
//
// For new customer messages (ReasonMessage) it is debounced: time is cut into windows of
// debounce, the task id is "extract:<conversation>:<window of at>" and the task runs
// ExtractGrace after that window ends. A burst of messages within a window therefore enqueues
// one task (the others are duplicates, which Enqueue treats as success), and it reads them
// all. A conversation that ended gets "extract:<conversation>:end"; a rerun
// "extract:<conversation>:rerun:<token>", run at once.
func (t *Tasks) Extract(p ExtractPayload, at time.Time, debounce time.Duration) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ConversationID <= 0 {
		return nil, fmt.Errorf("%s: workspace and conversation ids are required", TypeConversationExtract)
	}
	if debounce <= 0 {
		debounce = DefaultExtractDebounce
	}
	conv := strconv.FormatInt(p.ConversationID, 10)
	opts := []asynq.Option{asynq.Queue(QueueDefault), asynq.MaxRetry(5), asynq.Timeout(2 * time.Minute)}
	switch p.Reason {
	case extract.ReasonMessage, "":
		p.Reason = extract.ReasonMessage
		window := at.UnixNano() / int64(debounce)
		runAt := time.Unix(0, (window+1)*int64(debounce)).Add(ExtractGrace)
		opts = append(opts, asynq.TaskID(t.id("extract", conv, strconv.FormatInt(window, 10))), asynq.ProcessAt(runAt))
	case extract.ReasonEnded:
		opts = append(opts, asynq.TaskID(t.id("extract", conv, "end")))
	case extract.ReasonRerun:
		if p.Token == "" {
			p.Token = strconv.FormatInt(at.UnixNano(), 10)
		}
		opts = append(opts, asynq.TaskID(t.id("extract", conv, "rerun", p.Token)))
	default:
		return nil, fmt.Errorf("%s: unknown reason %q", TypeConversationExtract, p.Reason)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeConversationExtract, b, opts...), nil
}

// ExtractionSweep gives conversations that ended their last extraction.
func (t *Tasks) ExtractionSweep() *asynq.Task {
	return t.periodic(TypeExtractionSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// ExtractScheduler enqueues debounced extractions; its OnUserMessage is the conversations
// service's hook for stored customer messages.
type ExtractScheduler struct {
	Tasks    *Tasks
	Log      *slog.Logger
	Debounce time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Schedule enqueues the debounced extraction of a conversation.
func (s *ExtractScheduler) Schedule(ctx context.Context, workspaceID, conversationID int64) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t, err := s.Tasks.Extract(ExtractPayload{WorkspaceID: workspaceID, ConversationID: conversationID, Reason: extract.ReasonMessage, RequestID: logctx.RequestID(ctx)}, now(), s.Debounce)
	if err != nil {
		return err
	}
	return s.Tasks.Enqueue(ctx, t)
}

// OnUserMessage schedules the extraction after a customer message was stored. A queue that
// does not answer is logged, not returned: the message is stored, and the conversation's
// final extraction (when it ends) or a rerun reads it.
func (s *ExtractScheduler) OnUserMessage(ctx context.Context, m *store.Message) {
	if m == nil || m.Role != "user" || s.Tasks == nil {
		return
	}
	if err := s.Schedule(context.WithoutCancel(ctx), m.WorkspaceID, m.ConversationID); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "could not schedule variable extraction", "conversation_id", m.ConversationID, "err", err)
	}
}

// Extract runs extractions and the sweep for ended conversations.
type Extract struct {
	Extractor *extract.Extractor
	Tasks     *Tasks
	Log       *slog.Logger
	// SweepLookback bounds how far back the sweep looks for ended conversations (default 7
	// days); SweepBatch bounds one sweep (default 500).
	SweepLookback time.Duration
	SweepBatch    int
	// Debounce is the extraction debounce of the scheduler (DefaultExtractDebounce when 0): the
	// sweep leaves a conversation alone while its debounced task may still be waiting.
	Debounce time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (h *Extract) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// HandleExtract runs one extraction. It is idempotent: a state already extracted is skipped
// and an LLM call is recorded once per request id.
func (h *Extract) HandleExtract(ctx context.Context, t *asynq.Task) error {
	var p ExtractPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ConversationID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeConversationExtract, t.Payload(), asynq.SkipRetry)
	}
	switch p.Reason {
	case extract.ReasonMessage, extract.ReasonEnded, extract.ReasonRerun:
	default:
		return fmt.Errorf("%s: unknown reason %q: %w", TypeConversationExtract, p.Reason, asynq.SkipRetry)
	}
	res, err := h.Extractor.Execute(ctx, extract.Run{WorkspaceID: p.WorkspaceID, ConversationID: p.ConversationID, Reason: p.Reason, Token: p.Token})
	if err != nil {
		return err
	}
	if len(res.Changed) > 0 || res.Error != "" {
		h.log().InfoContext(ctx, "variables extracted", "conversation_id", p.ConversationID, "reason", p.Reason,
			"changed", res.Changed, "asked_llm", res.Asked, "error", res.Error)
	}
	return nil
}

// HandleSweep enqueues the final extraction of conversations that ended since their last one,
// and the extraction of open conversations whose debounced task was lost (Redis flushed or
// restarted): both are read from the database.
func (h *Extract) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	back, batch := h.SweepLookback, h.SweepBatch
	if back <= 0 {
		back = 7 * 24 * time.Hour
	}
	if batch <= 0 {
		batch = 500
	}
	refs, err := h.Extractor.Pending(ctx, time.Now().Add(-back), batch)
	if err != nil {
		return err
	}
	for _, r := range refs {
		t, err := h.Tasks.Extract(ExtractPayload{WorkspaceID: r.WorkspaceID, ConversationID: r.ID, Reason: extract.ReasonEnded}, time.Now(), 0)
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("enqueue final extraction of %d: %w", r.ID, err)
		}
	}
	if len(refs) > 0 {
		h.log().InfoContext(ctx, "enqueued the final extraction of ended conversations", "count", len(refs))
	}
	// Debounced extractions whose task Redis lost: conversations whose last customer message
	// is older than the debounce window (and its grace) and that no extraction has read.
	quiet := 2*h.debounce() + ExtractGrace + 10*time.Second
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	lost, err := h.Extractor.Unextracted(ctx, now.Add(-quiet), now.Add(-back), batch)
	if err != nil {
		return err
	}
	for _, r := range lost {
		t, err := h.Tasks.Extract(ExtractPayload{WorkspaceID: r.WorkspaceID, ConversationID: r.ID, Reason: extract.ReasonMessage}, now, h.debounce())
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("enqueue the lost extraction of %d: %w", r.ID, err)
		}
	}
	if len(lost) > 0 {
		h.log().InfoContext(ctx, "enqueued extractions whose debounced task was lost", "count", len(lost))
	}
	return nil
}

func (h *Extract) debounce() time.Duration {
	if h.Debounce > 0 {
		return h.Debounce
	}
	return DefaultExtractDebounce
}
