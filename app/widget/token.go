package widget

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// Token kinds.
const (
	// KindSession binds a browser to one conversation: it reads and writes that conversation
	// only.
	KindSession = "session"
	// KindStart lets one visitor of one assistant start a session from a page Parley served
	// (the pre-chat form): a forged cross-site POST cannot know it.
	KindStart = "start"
	// KindReply reads the reply to one visitor message: it rides in the URL of the reply's
	// event stream (EventSource cannot send headers), so it is narrow and short-lived.
	KindReply = "reply"
)

// Lifetimes.
const (
	SessionTTL = 24 * time.Hour
	StartTTL   = 2 * time.Hour
	ReplyTTL   = 30 * time.Minute
)

// Token errors. Both mean "no access"; they are told apart only for the message.
var (
	ErrTokenInvalid = errors.New("the token is not valid")
	ErrTokenExpired = errors.New("the token has expired")
)

// Claims are what a token says.
type Claims struct {
	Kind           string `json:"k"`
	WorkspaceID    int64  `json:"w"`
	AssistantID    int64  `json:"a"`
	ConversationID int64  `json:"c,omitempty"`
	MessageID      int64  `json:"m,omitempty"`
	Visitor        string `json:"v,omitempty"`
	Expires        int64  `json:"x"` // Unix seconds
}

// tokenPrefix versions the format and keeps widget tokens apart from anything else signed
// with the same key.
const tokenPrefix = "pw1."

// Sign makes a token: "pw1." + base64url(JSON claims) + "." + base64url(HMAC-SHA256).
func Sign(key []byte, c Claims) string {
	raw, _ := json.Marshal(c)
	body := base64.RawURLEncoding.EncodeToString(raw)
	return tokenPrefix + body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body))
}

func mac(key []byte, body string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("parley-widget-token\x00" + tokenPrefix))
	h.Write([]byte(body))
	return h.Sum(nil)
}

// Verify checks a token's signature, kind and expiry and returns its claims.
func Verify(key []byte, token, kind string, now time.Time) (Claims, error) {
	var c Claims
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), tokenPrefix)
	if !ok || len(rest) > 1024 {
		return c, ErrTokenInvalid
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, ErrTokenInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return c, ErrTokenInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Kind != kind || c.AssistantID <= 0 || c.WorkspaceID <= 0 {
		return Claims{}, ErrTokenInvalid
	}
	if (kind == KindSession || kind == KindReply) && c.ConversationID <= 0 || kind == KindReply && c.MessageID <= 0 {
		return Claims{}, ErrTokenInvalid
	}
	if now.Unix() >= c.Expires {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

// SessionToken signs a session token for a widget conversation.
func SessionToken(key []byte, conv *store.Conversation, now time.Time) string {
	var aid int64
	if conv.AssistantID != nil {
		aid = *conv.AssistantID
	}
	return Sign(key, Claims{Kind: KindSession, WorkspaceID: conv.WorkspaceID, AssistantID: aid, ConversationID: conv.ID,
		Expires: now.Add(SessionTTL).Unix()})
}

// ReplyToken signs the token of the reply stream of one visitor message.
func ReplyToken(key []byte, conv *store.Conversation, userMessageID int64, now time.Time) string {
	var aid int64
	if conv.AssistantID != nil {
		aid = *conv.AssistantID
	}
	return Sign(key, Claims{Kind: KindReply, WorkspaceID: conv.WorkspaceID, AssistantID: aid, ConversationID: conv.ID,
		MessageID: userMessageID, Expires: now.Add(ReplyTTL).Unix()})
}

// StartToken signs the token of a pre-chat form served to one visitor.
func StartToken(key []byte, a *store.Assistant, visitor string, now time.Time) string {
	return Sign(key, Claims{Kind: KindStart, WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Visitor: visitor,
		Expires: now.Add(StartTTL).Unix()})
}
