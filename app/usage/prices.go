// Package usage prices LLM calls and records them in the usage ledger.
//
// Prices come from a Table of entries, each matching a model name exactly or by regular
// expression and giving USD per 1M input, cached-input and output tokens as decimal strings.
// The table is layered: Settings overrides (Table.With) come first, then the file named by
// PARLEY_PRICES_FILE, then the embedded defaults (prices.json); the first layer with a
// matching entry decides. A layer therefore extends and overrides the ones below it, and
// never removes anything from them: a model it does not match keeps its lower price.
//
// Costs are integers in nano-dollars (1e-9 USD), computed exactly with integer arithmetic:
//
//	cost = round_half_up( ((prompt - cached) * input + cached * cached_input + completion * output) / 1,000,000 )
//
// where the prices are nano-dollars per 1M tokens (a decimal string of at most 9 fractional
// digits converts to that exactly). The sum is rounded once, half up to the nano-dollar.
// A model without a price costs 0 with a "no price for model X" warning (Cost.Found false):
// never a silent zero.
//
// It owns the price table and the ledger rows' pricing; the workspace's own entries come from
// model.Settings as the store decoded them, and money is written by model.Money. It may not
// import web, views or workers.
package usage

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/config"
)

// Sources of price entries, from the bottom layer up.
const (
	SourceDefault  = "default"  // the embedded table
	SourceFile     = "file"     // PARLEY_PRICES_FILE
	SourceSettings = "settings" // the workspace's Settings
)

// NanosPerUSD is how many nano-dollars make one dollar.
const NanosPerUSD = model.NanosPerUSD

// tokensPerPrice is the number of tokens a price is given for.
const tokensPerPrice = 1_000_000

// RegexPrefix marks a Match that is a regular expression (Go syntax, unanchored unless it
// says otherwise).
const RegexPrefix = "re:"

// Price is one entry of a price table, as it is written in JSON.
type Price struct {
	// Match is an exact model name (compared without regard to case), or "re:" and a regular
	// expression.
	Match string `json:"match"`
	// USD per 1M tokens, as decimal strings with at most 9 fractional digits ("0.15").
	InputPer1M string `json:"input_per_1m"`
	// CachedInputPer1M prices input tokens served from the prompt cache; empty means the
	// same as InputPer1M (no discount).
	CachedInputPer1M string `json:"cached_input_per_1m,omitempty"`
	OutputPer1M      string `json:"output_per_1m"`
	// Free marks an entry whose prices are all zero on purpose (local models). An entry with
	// only zero prices must say so.
	Free bool   `json:"free,omitempty"`
	Note string `json:"note,omitempty"`
	// Source is the layer the entry comes from (SourceDefault, SourceFile, SourceSettings).
	// It is set by the table; a value read from JSON is ignored.
	Source string `json:"source,omitempty"`
}

// Tokens is the token count of one call.
type Tokens struct {
	Prompt     int // all input tokens, cached ones included
	Cached     int // the part of Prompt served from the prompt cache
	Completion int
}

// Cost is the price of one call.
type Cost struct {
	Nanos int64
	// Found is false when no entry matches the model: Nanos is then 0 and Warning says so.
	Found   bool
	Price   Price  // the entry used (zero when not found)
	Warning string // "no price for model X" when not found
}

// entry is a validated Price.
type entry struct {
	Price
	re                    *regexp.Regexp // nil for an exact match
	input, cached, output int64          // nano-dollars per 1M tokens
}

// Table is an immutable, layered price table; it is safe for concurrent use.
type Table struct {
	layers [][]entry // top layer first
}

//go:embed prices.json
var defaultPrices []byte

var defaultTable = sync.OnceValues(func() (*Table, error) {
	prices, err := ParsePrices(defaultPrices)
	if err != nil {
		return nil, err
	}
	return (&Table{}).With(SourceDefault, prices)
})

// Default returns the embedded price table.
func Default() *Table {
	t, err := defaultTable()
	if err != nil {
		panic("usage: the embedded prices.json is invalid: " + err.Error())
	}
	return t
}

// Load returns the embedded table with the file named by PARLEY_PRICES_FILE (when set) on
// top. A file that cannot be read or is not a valid price table is a *config.Error.
func Load(cfg *config.Config) (*Table, error) {
	return LoadFile(cfg.PricesFile)
}

// LoadFile returns the embedded table with the price file at path (when not empty) on top.
func LoadFile(path string) (*Table, error) {
	t := Default()
	if path == "" {
		return t, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{Var: "PARLEY_PRICES_FILE", Msg: fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))}
	}
	prices, err := ParsePrices(data)
	if err != nil {
		return nil, &config.Error{Var: "PARLEY_PRICES_FILE", Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	t, err = t.With(SourceFile, prices)
	if err != nil {
		return nil, &config.Error{Var: "PARLEY_PRICES_FILE", Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	return t, nil
}

// ParsePrices reads a price table: a JSON array of Price objects. Every entry is validated.
func ParsePrices(data []byte) ([]Price, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var prices []Price
	if err := dec.Decode(&prices); err != nil {
		return nil, fmt.Errorf("not a JSON array of price entries: %w", err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON array")
	}
	for i, p := range prices {
		if _, err := compile(p); err != nil {
			return nil, fmt.Errorf("entry %d (%q): %w", i+1, p.Match, err)
		}
	}
	return prices, nil
}

// ValidatePrice checks one entry (for a Settings form), returning an error that names the
// wrong field.
func ValidatePrice(p Price) error {
	_, err := compile(p)
	return err
}

func compile(p Price) (entry, error) {
	e := entry{Price: p}
	e.Match = strings.TrimSpace(p.Match)
	if e.Match == "" {
		return e, errors.New("match: empty")
	}
	if rx, ok := strings.CutPrefix(e.Match, RegexPrefix); ok {
		re, err := regexp.Compile(rx)
		if err != nil {
			return e, fmt.Errorf("match: %v", err)
		}
		e.re = re
	}
	var err error
	if e.input, err = ParseUSD(p.InputPer1M); err != nil {
		return e, fmt.Errorf("input_per_1m: %w", err)
	}
	if strings.TrimSpace(p.CachedInputPer1M) == "" {
		e.cached = e.input
	} else if e.cached, err = ParseUSD(p.CachedInputPer1M); err != nil {
		return e, fmt.Errorf("cached_input_per_1m: %w", err)
	}
	if e.output, err = ParseUSD(p.OutputPer1M); err != nil {
		return e, fmt.Errorf("output_per_1m: %w", err)
	}
	zero := e.input == 0 && e.cached == 0 && e.output == 0
	if p.Free && !zero {
		return e, errors.New("free: an entry marked free must have zero prices")
	}
	if zero && !p.Free {
		return e, errors.New("free: every price is zero; set \"free\": true if that is intended")
	}
	return e, nil
}

// maxUSD bounds a price (USD per 1M tokens) so that costs stay far from overflowing.
const maxUSD = 1_000_000

// ParseUSD converts a decimal dollar amount ("0.15", "10", "0.000000001") to nano-dollars,
// exactly. It accepts digits with an optional point and at most 9 fractional digits; no
// sign, exponent or thousands separator.
func ParseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty")
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if (whole == "" && frac == "") || (hasPoint && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("%q is not a decimal number of dollars such as 0.15", s)
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("%q has more than 9 decimals (the nano-dollar is the smallest unit)", s)
	}
	var w int64
	if whole != "" {
		var err error
		if w, err = strconv.ParseInt(whole, 10, 64); err != nil || w > maxUSD {
			return 0, fmt.Errorf("%q is more than %d dollars", s, maxUSD)
		}
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	n := w*NanosPerUSD + f
	if n > maxUSD*NanosPerUSD {
		return 0, fmt.Errorf("%q is more than %d dollars", s, maxUSD)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// With returns a new table with prices as its top layer, tagged with source. The receiver
// is unchanged. Use it for Settings overrides: Default().With(SourceSettings, overrides).
func (t *Table) With(source string, prices []Price) (*Table, error) {
	layer := make([]entry, 0, len(prices))
	for i, p := range prices {
		e, err := compile(p)
		if err != nil {
			return nil, fmt.Errorf("entry %d (%q): %w", i+1, p.Match, err)
		}
		e.Source = source
		layer = append(layer, e)
	}
	out := &Table{layers: make([][]entry, 0, len(t.layers)+1)}
	out.layers = append(out.layers, layer)
	out.layers = append(out.layers, t.layers...)
	return out, nil
}

// Entries lists every entry, top layer first, in lookup order within a layer as written.
func (t *Table) Entries() []Price {
	var out []Price
	for _, l := range t.layers {
		for _, e := range l {
			out = append(out, e.Price)
		}
	}
	return out
}

// Lookup finds the price of a model: the first layer with a match decides; within a layer an
// exact match wins over regular expressions, which are tried in order.
func (t *Table) Lookup(model string) (Price, bool) {
	e, ok := t.lookup(model)
	return e.Price, ok
}

func (t *Table) lookup(model string) (entry, bool) {
	model = strings.TrimSpace(model)
	if model == "" {
		return entry{}, false
	}
	for _, l := range t.layers {
		for _, e := range l {
			if e.re == nil && strings.EqualFold(e.Match, model) {
				return e, true
			}
		}
		for _, e := range l {
			if e.re != nil && e.re.MatchString(model) {
				return e, true
			}
		}
	}
	return entry{}, false
}

// Cost prices one call of model.
func (t *Table) Cost(model string, tok Tokens) Cost {
	e, ok := t.lookup(model)
	if !ok {
		return Cost{Warning: fmt.Sprintf("no price for model %s", strings.TrimSpace(model))}
	}
	return Cost{Nanos: e.cost(tok), Found: true, Price: e.Price}
}

// CostOf prices tokens with one entry (for a Settings preview).
func CostOf(p Price, tok Tokens) (int64, error) {
	e, err := compile(p)
	if err != nil {
		return 0, err
	}
	return e.cost(tok), nil
}

var (
	bigPerPrice = big.NewInt(tokensPerPrice)
	bigHalf     = big.NewInt(tokensPerPrice / 2)
	bigMaxInt64 = big.NewInt(math.MaxInt64)
)

// cost is exact: the sum of tokens times nano-dollars per 1M tokens, divided by 1M once,
// rounded half up. Negative counts are taken as 0 and cached tokens are at most the prompt.
func (e entry) cost(tok Tokens) int64 {
	prompt, cached, completion := int64(max(tok.Prompt, 0)), int64(max(tok.Cached, 0)), int64(max(tok.Completion, 0))
	cached = min(cached, prompt)
	sum := new(big.Int).Mul(big.NewInt(prompt-cached), big.NewInt(e.input))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(cached), big.NewInt(e.cached)))
	sum.Add(sum, new(big.Int).Mul(big.NewInt(completion), big.NewInt(e.output)))
	sum.Add(sum, bigHalf)
	sum.Quo(sum, bigPerPrice)
	if sum.Cmp(bigMaxInt64) > 0 {
		return math.MaxInt64
	}
	return sum.Int64()
}
