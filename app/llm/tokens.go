package llm

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Tokenizer encodings.
const (
	EncodingO200K  = "o200k_base"
	EncodingCL100K = "cl100k_base"
)

// Chat-format overhead, as OpenAI counts it for gpt-3.5-turbo and later: every message costs
// its content and role plus tokensPerMessage, and every reply is primed with replyPriming.
const (
	tokensPerMessage = 3
	replyPriming     = 3
)

// encoder is one tiktoken encoding, built on first use and then shared (building one reads
// and indexes a vocabulary of 100k to 200k entries).
type encoder struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
	err  error
}

var (
	loaderOnce sync.Once
	encoders   = map[string]*encoder{EncodingO200K: {}, EncodingCL100K: {}}
)

func getEncoder(name string) (*tiktoken.Tiktoken, error) {
	// The offline loader reads the vocabularies embedded in the binary: no network, ever.
	loaderOnce.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
	e, ok := encoders[name]
	if !ok {
		e = encoders[EncodingCL100K]
	}
	e.once.Do(func() { e.enc, e.err = tiktoken.GetEncoding(name) })
	return e.enc, e.err
}

// EncodingFor returns the tokenizer encoding of a model: o200k_base for the GPT-4o, GPT-4.1,
// GPT-4.5, GPT-5 and o-series families, cl100k_base for everything else (GPT-4, GPT-3.5 and,
// as an approximation, local models whose own tokenizers are not bundled).
func EncodingFor(model string) string {
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 { // "openai/gpt-4o" on routers
		m = m[i+1:]
	}
	for _, p := range []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "gpt-oss"} {
		if strings.HasPrefix(m, p) {
			return EncodingO200K
		}
	}
	if m == OfflineModel {
		return EncodingO200K
	}
	return EncodingCL100K
}

// CountText returns the number of tokens of text in the model's encoding. Special-token
// strings in the text are counted as ordinary text, never as control tokens.
func CountText(model, text string) int {
	if text == "" {
		return 0
	}
	enc, err := getEncoder(EncodingFor(model))
	if err != nil { // the vocabularies are embedded: this does not happen; estimate anyway
		return (utf8.RuneCountInString(text) + 3) / 4
	}
	return len(enc.EncodeOrdinary(text))
}

// CountMessages returns the prompt tokens of a chat request the way OpenAI counts them:
// for each message 3 tokens plus its role and content, and 3 more that prime the reply.
func CountMessages(model string, msgs []Message) int {
	n := replyPriming
	for _, m := range msgs {
		role, ok := normalizeRole(m.Role)
		if !ok {
			role = m.Role
		}
		n += tokensPerMessage + CountText(model, role) + CountText(model, m.Content)
	}
	return n
}

// WarmTokenizer builds the model's encoder now, so that the first count is not slow.
func WarmTokenizer(model string) error {
	_, err := getEncoder(EncodingFor(model))
	return err
}
