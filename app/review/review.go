// Package review is the review workflow of conversations (issue 14 items 4 and 6): a
// conversation's review status (with its reviewer and time) and assignee, the workspace's
// tags and the conversations' tags, internal notes (on a conversation or one of its
// messages, never shown to the customer) and corrections of assistant messages. It is the
// only writer of those; each write is one store transaction with its audit entry, and is
// published (ConversationChanged, and CountsChanged where saved-view counts may move).
// It also finds a conversation's neighbours in the list it was opened from (keyboard review).
package review

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Limits of the texts (in characters).
const (
	MaxNote       = 4000
	MaxCorrection = 4000
	MaxTagName    = 50
)

// Colors is the palette of tag colours by name; a tag may also have any #rrggbb.
var Colors = []string{"gray", "red", "orange", "yellow", "green", "teal", "blue", "purple"}

// DefaultColor is the colour of a tag created without one (a tag named in the API).
const DefaultColor = "gray"

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Errors. A *FieldError names the field of a wrong value.
var (
	// ErrNotFound is a conversation (or tag) that is not the workspace's.
	ErrNotFound = store.ErrNotFound
	// ErrTagExists is a tag name another tag of the workspace has (case-insensitively).
	ErrTagExists = errors.New("a tag of this name exists")
)

// FieldError is a wrong value of one field (the API answers 422 naming it).
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Service is the review workflow.
type Service struct {
	Store  *store.Store
	Events *events.Bus
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) publish(ctx context.Context, kinds []string, workspaceID, conversationID int64) {
	if s.Events == nil {
		return
	}
	// The write is done: tell the pages even if the caller has gone away meanwhile.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for _, k := range kinds {
		ev := events.Event{Kind: k, WorkspaceID: workspaceID}
		if k != events.CountsChanged {
			ev.ConversationID = conversationID
		}
		s.Events.Publish(pctx, ev)
	}
}

var (
	changedAndCounts = []string{events.ConversationChanged, events.CountsChanged}
	changedOnly      = []string{events.ConversationChanged}
)

// actor is who acts (from the context): a user's id and name; an API key has no user id.
func actor(ctx context.Context) (id *int64, name string) {
	a := audit.ActorFrom(ctx)
	if a.Type == audit.ActorUser && a.ID > 0 {
		uid := a.ID
		id = &uid
	}
	return id, a.Name
}

// Change is a change of a conversation's review: Status ("" leaves it), and, when
// SetAssignee, the assignee by user id or by email (neither: unassign).
type Change struct {
	Status        string
	SetAssignee   bool
	AssigneeID    int64
	AssigneeEmail string
}

// Update applies a review change (status: one of model.ReviewStatuses; assignee: a member of
// the workspace) in one transaction with its audit entry, and publishes it. A wrong value is a
// *FieldError ("status", "assignee"); ErrNotFound for a conversation not the workspace's.
func (s *Service) Update(ctx context.Context, workspaceID, conversationID int64, ch Change) error {
	if ch.Status == "" && !ch.SetAssignee {
		return &FieldError{"status", "give a status or an assignee"}
	}
	if ch.Status != "" && !slices.Contains(model.ReviewStatuses, ch.Status) {
		return &FieldError{"status", "must be one of " + strings.Join(model.ReviewStatuses, ", ")}
	}
	byID, byName := actor(ctx)
	sc := store.ReviewChange{Status: ch.Status, SetAssignee: ch.SetAssignee, ByID: byID, ByName: byName, At: s.now(), Unreviewed: model.ReviewUnreviewed}
	details := map[string]any{}
	if ch.Status != "" {
		details["status"] = ch.Status
	}
	if ch.SetAssignee {
		switch {
		case ch.AssigneeEmail != "":
			m, err := s.Store.MemberByEmail(ctx, workspaceID, strings.TrimSpace(ch.AssigneeEmail))
			if errors.Is(err, store.ErrNotFound) {
				return &FieldError{"assignee", "is not a member of this workspace"}
			}
			if err != nil {
				return err
			}
			sc.AssigneeID = &m.UserID
		case ch.AssigneeID > 0:
			id := ch.AssigneeID
			sc.AssigneeID = &id
		case ch.AssigneeID < 0:
			return &FieldError{"assignee", "is not a member of this workspace"}
		}
		details["assignee_id"] = sc.AssigneeID
	}
	action := audit.ConversationReview
	if ch.Status == "" {
		action = audit.ConversationAssign
	}
	entry := audit.New(ctx, workspaceID, action, audit.On(audit.TargetConversation, conversationID), details)
	err := s.Store.UpdateReview(ctx, workspaceID, conversationID, sc, entry)
	if errors.Is(err, store.ErrNotMember) {
		return &FieldError{"assignee", "is not a member of this workspace"}
	}
	if err != nil {
		return err
	}
	s.publish(ctx, changedAndCounts, workspaceID, conversationID)
	return nil
}

// ---- tags ----

// TagName checks a tag's name (trimmed, 1 to MaxTagName characters, no control characters)
// and returns it with its key (the case-insensitive form that is unique per workspace).
func TagName(field, name string) (clean, key string, err error) {
	clean = strings.Join(strings.Fields(name), " ")
	switch n := utf8.RuneCountInString(clean); {
	case !utf8.ValidString(name):
		return "", "", &FieldError{field, "must be valid UTF-8 text"}
	case n == 0:
		return "", "", &FieldError{field, "is required"}
	case n > MaxTagName:
		return "", "", &FieldError{field, "must be at most 50 characters"}
	}
	if strings.IndexFunc(clean, unicode.IsControl) >= 0 {
		return "", "", &FieldError{field, "must not contain control characters"}
	}
	return clean, conversation.TagKey(clean), nil
}

// Color checks a tag colour: a name of Colors or #rrggbb ("" is DefaultColor).
func Color(c string) (string, error) {
	c = strings.ToLower(strings.TrimSpace(c))
	if c == "" {
		return DefaultColor, nil
	}
	if slices.Contains(Colors, c) || hexColor.MatchString(c) {
		return c, nil
	}
	return "", &FieldError{"color", "must be one of " + strings.Join(Colors, ", ") + " or #rrggbb"}
}

// Tags lists the workspace's tags by name.
func (s *Service) Tags(ctx context.Context, workspaceID int64) ([]store.Tag, error) {
	return s.Store.Tags(ctx, workspaceID)
}

// CreateTag creates a workspace tag: *FieldError ("name", "color"), ErrTagExists.
func (s *Service) CreateTag(ctx context.Context, workspaceID int64, name, color string) (*store.Tag, error) {
	name, key, err := TagName("name", name)
	if err != nil {
		return nil, err
	}
	if color, err = Color(color); err != nil {
		return nil, err
	}
	t := &store.Tag{WorkspaceID: workspaceID, Name: name, NameKey: key, Color: color}
	entry := audit.New(ctx, workspaceID, audit.TagCreate, audit.On(audit.TargetTag, 0), map[string]any{"name": name, "color": color})
	if err := s.Store.CreateTag(ctx, t, entry); errors.Is(err, store.ErrConflict) {
		return nil, ErrTagExists
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateTag renames and recolours a tag: *FieldError, ErrTagExists, ErrNotFound.
func (s *Service) UpdateTag(ctx context.Context, workspaceID, id int64, name, color string) (*store.Tag, error) {
	name, key, err := TagName("name", name)
	if err != nil {
		return nil, err
	}
	if color, err = Color(color); err != nil {
		return nil, err
	}
	t := &store.Tag{ID: id, WorkspaceID: workspaceID, Name: name, NameKey: key, Color: color}
	entry := audit.New(ctx, workspaceID, audit.TagUpdate, audit.On(audit.TargetTag, id), map[string]any{"name": name, "color": color})
	switch err := s.Store.UpdateTag(ctx, t, entry); {
	case errors.Is(err, store.ErrConflict):
		return nil, ErrTagExists
	case err != nil:
		return nil, err
	}
	s.publish(ctx, []string{events.CountsChanged}, workspaceID, 0)
	return t, nil
}

// DeleteTag deletes a tag and takes it off every conversation.
func (s *Service) DeleteTag(ctx context.Context, workspaceID, id int64) error {
	entry := audit.New(ctx, workspaceID, audit.TagDelete, audit.On(audit.TargetTag, id), nil)
	if err := s.Store.DeleteTag(ctx, workspaceID, id, entry); err != nil {
		return err
	}
	s.publish(ctx, []string{events.CountsChanged}, workspaceID, 0)
	return nil
}

// Tag puts the tag named name on a conversation, creating the workspace's tag (DefaultColor)
// when it has none of that name (case-insensitively). A wrong name is a *FieldError ("tag").
func (s *Service) Tag(ctx context.Context, workspaceID, conversationID int64, name string) (*store.Tag, error) {
	name, key, err := TagName("tag", name)
	if err != nil {
		return nil, err
	}
	entry := audit.New(ctx, workspaceID, audit.ConversationTag, audit.On(audit.TargetConversation, conversationID), map[string]any{"tag": name})
	t, added, err := s.Store.TagConversation(ctx, workspaceID, conversationID, name, key, DefaultColor, entry)
	if err != nil {
		return nil, err
	}
	if added {
		s.publish(ctx, changedAndCounts, workspaceID, conversationID)
	}
	return t, nil
}

// Untag takes the tag named name off a conversation (nothing when it has not it).
func (s *Service) Untag(ctx context.Context, workspaceID, conversationID int64, name string) error {
	name, key, err := TagName("tag", name)
	if err != nil {
		return err
	}
	entry := audit.New(ctx, workspaceID, audit.ConversationUntag, audit.On(audit.TargetConversation, conversationID), map[string]any{"tag": name})
	removed, err := s.Store.UntagConversation(ctx, workspaceID, conversationID, key, entry)
	if err != nil {
		return err
	}
	if removed {
		s.publish(ctx, changedAndCounts, workspaceID, conversationID)
	}
	return nil
}

// ---- notes and corrections ----

// text checks a note's or correction's text: trimmed, not empty, at most max characters.
func text(field, t string, max int) (string, error) {
	t = strings.TrimSpace(t)
	switch {
	case !utf8.ValidString(t):
		return "", &FieldError{field, "must be valid UTF-8 text"}
	case t == "":
		return "", &FieldError{field, "is required"}
	case utf8.RuneCountInString(t) > max:
		return "", &FieldError{field, "must be at most " + strconv.Itoa(max) + " characters"}
	}
	return t, nil
}

// AddNote writes an internal note on a conversation, or on one of its messages (messageID
// > 0): *FieldError ("text"; "message_id" for a message not of the conversation),
// ErrNotFound for a conversation not the workspace's.
func (s *Service) AddNote(ctx context.Context, workspaceID, conversationID int64, body string, messageID int64) (*store.Note, error) {
	body, err := text("text", body, MaxNote)
	if err != nil {
		return nil, err
	}
	byID, byName := actor(ctx)
	n := &store.Note{WorkspaceID: workspaceID, ConversationID: conversationID, AuthorID: byID, AuthorName: byName, Text: body, CreatedAt: store.Now()}
	if messageID != 0 {
		if messageID < 0 {
			return nil, &FieldError{"message_id", "is not a message of this conversation"}
		}
		n.MessageID = &messageID
	}
	entry := audit.New(ctx, workspaceID, audit.ConversationNote, audit.On(audit.TargetConversation, conversationID), map[string]any{"message_id": n.MessageID})
	err = s.Store.AddNote(ctx, n, entry)
	if errors.Is(err, store.ErrWrongMessage) {
		return nil, &FieldError{"message_id", "is not a message of this conversation"}
	}
	if err != nil {
		return nil, err
	}
	s.publish(ctx, changedOnly, workspaceID, conversationID)
	return n, nil
}

// Correct marks an assistant message of the conversation as a bad answer with the answer it
// should have given (replacing its earlier correction: text, author and time):
// *FieldError ("text"; "message_id" for a message not of the conversation or not the
// assistant's), ErrNotFound.
func (s *Service) Correct(ctx context.Context, workspaceID, conversationID, messageID int64, body string) (*store.Correction, error) {
	body, err := text("text", body, MaxCorrection)
	if err != nil {
		return nil, err
	}
	byID, byName := actor(ctx)
	c := &store.Correction{MessageID: messageID, WorkspaceID: workspaceID, ConversationID: conversationID, AuthorID: byID, AuthorName: byName, Text: body}
	entry := audit.New(ctx, workspaceID, audit.ConversationCorrection, audit.On(audit.TargetConversation, conversationID), map[string]any{"message_id": messageID})
	err = s.Store.SetCorrection(ctx, c, model.RoleAssistant, entry)
	if errors.Is(err, store.ErrWrongMessage) {
		return nil, &FieldError{"message_id", "is not an assistant message of this conversation"}
	}
	if err != nil {
		return nil, err
	}
	s.publish(ctx, changedOnly, workspaceID, conversationID)
	return c, nil
}

// Uncorrect removes a message's correction (nothing when it has none).
func (s *Service) Uncorrect(ctx context.Context, workspaceID, conversationID, messageID int64) error {
	entry := audit.New(ctx, workspaceID, audit.ConversationCorrectionDelete, audit.On(audit.TargetConversation, conversationID), map[string]any{"message_id": messageID})
	removed, err := s.Store.DeleteCorrection(ctx, workspaceID, conversationID, messageID, entry)
	if err != nil {
		return err
	}
	if removed {
		s.publish(ctx, changedOnly, workspaceID, conversationID)
	}
	return nil
}

// ---- reading ----

// Detail is what the review shows of one conversation: its tags, assignee, notes and
// corrections (by message id), the workspace's tags and members (to choose from).
type Detail struct {
	Tags        []store.Tag
	Assignee    *store.Member
	Notes       []store.Note
	Corrections map[int64]store.Correction
	AllTags     []store.Tag
	Members     []store.Member
}

// Detail loads the review of a conversation (a fixed number of queries).
func (s *Service) Detail(ctx context.Context, conv *store.Conversation) (*Detail, error) {
	ws, id := conv.WorkspaceID, conv.ID
	d := &Detail{}
	tags, err := s.Store.ConversationTags(ctx, ws, []int64{id})
	if err != nil {
		return nil, err
	}
	d.Tags = tags[id]
	if d.Members, err = s.Store.Members(ctx, ws); err != nil {
		return nil, err
	}
	if conv.AssigneeID != nil {
		for i := range d.Members {
			if d.Members[i].UserID == *conv.AssigneeID {
				d.Assignee = &d.Members[i]
			}
		}
	}
	if d.Notes, err = s.Store.Notes(ctx, ws, id); err != nil {
		return nil, err
	}
	if d.Corrections, err = s.Store.Corrections(ctx, ws, id); err != nil {
		return nil, err
	}
	if d.AllTags, err = s.Store.Tags(ctx, ws); err != nil {
		return nil, err
	}
	return d, nil
}

// Page is what a page of the list shows of each conversation's review: tags and assignees,
// each in one query over the page's ids.
type Page struct {
	Tags      map[int64][]store.Tag
	Assignees map[int64]store.Member
}

// Assignee is the member conv is assigned to in the page (nil: none).
func (p *Page) Assignee(conv *store.Conversation) *store.Member {
	if conv.AssigneeID == nil {
		return nil
	}
	if m, ok := p.Assignees[*conv.AssigneeID]; ok {
		return &m
	}
	return nil
}

// PageOf loads the review of a page of conversations: two queries whatever its size.
func (s *Service) PageOf(ctx context.Context, workspaceID int64, convs []store.Conversation) (*Page, error) {
	ids := make([]int64, 0, len(convs))
	var users []int64
	for i := range convs {
		ids = append(ids, convs[i].ID)
		if a := convs[i].AssigneeID; a != nil && !slices.Contains(users, *a) {
			users = append(users, *a)
		}
	}
	p := &Page{}
	var err error
	if p.Tags, err = s.Store.ConversationTags(ctx, workspaceID, ids); err != nil {
		return nil, err
	}
	if p.Assignees, err = s.Store.MembersByID(ctx, workspaceID, users); err != nil {
		return nil, err
	}
	return p, nil
}

// Neighbours are the previous and next conversations (0 at an end) of conv in the list of
// the query from (a list URL's query string, as the list's links carry it); a query that does
// not parse has no neighbours.
func (s *Service) Neighbours(ctx context.Context, conv *store.Conversation, from string) (prev, next int64, err error) {
	v, err := url.ParseQuery(from)
	if err != nil {
		return 0, 0, nil
	}
	v.Del("cursor")
	_, f, err := conversation.ParseQuery(v, s.now())
	if err != nil {
		return 0, 0, nil
	}
	return s.Store.Neighbours(ctx, conv.WorkspaceID, f, conv)
}
