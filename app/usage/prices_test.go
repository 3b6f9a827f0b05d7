package usage

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/config"
)

func TestCostIsExact(t *testing.T) {
	tbl := Default()
	cases := []struct {
		name  string
		model string
		tok   Tokens
		want  int64
	}{
		// (1234*0.15 + 567*0.60) USD per 1M = 0.0005253 USD.
		{"the issue's example", "gpt-4o-mini", Tokens{Prompt: 1234, Completion: 567}, 525_300},
		{"a dated snapshot has the same price", "gpt-4o-mini-2024-07-18", Tokens{Prompt: 1234, Completion: 567}, 525_300},
		// (210*0.15 + 1024*0.075 + 567*0.60) per 1M = 31,500 + 76,800 + 340,200 nano-dollars.
		{"cached tokens at the cached price", "gpt-4o-mini", Tokens{Prompt: 1234, Cached: 1024, Completion: 567}, 448_500},
		{"cached tokens never exceed the prompt", "gpt-4o-mini", Tokens{Prompt: 10, Cached: 50}, 750},
		{"negative counts are zero", "gpt-4o-mini", Tokens{Prompt: -5, Completion: -1}, 0},
		{"gpt-4o", "gpt-4o", Tokens{Prompt: 1_000_000, Cached: 500_000, Completion: 1_000_000}, 1_250_000_000 + 625_000_000 + 10_000_000_000},
		{"the first gpt-4o snapshot is matched exactly", "gpt-4o-2024-05-13", Tokens{Prompt: 1000, Cached: 1000, Completion: 1000}, 5_000_000 + 15_000_000},
		{"gpt-4.1-nano cached", "gpt-4.1-nano", Tokens{Prompt: 1, Cached: 1}, 25},
		{"o4-mini", "o4-mini-2025-04-16", Tokens{Prompt: 4000, Cached: 1000, Completion: 100}, 3_300_000 + 275_000 + 440_000},
		{"no cached price means the input price", "gpt-3.5-turbo", Tokens{Prompt: 2000, Cached: 2000, Completion: 0}, 1_000_000},
		{"local models are free", "llama3.1:8b", Tokens{Prompt: 5000, Completion: 5000}, 0},
		{"the offline provider is free", "offline", Tokens{Prompt: 5000, Completion: 5000}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tbl.Cost(tc.model, tc.tok)
			if !c.Found || c.Warning != "" {
				t.Fatalf("no price for %s: %+v", tc.model, c)
			}
			if c.Nanos != tc.want {
				t.Fatalf("cost %d nano-dollars, want %d", c.Nanos, tc.want)
			}
		})
	}
}

func TestCostRoundsHalfUpOnce(t *testing.T) {
	// $0.0000025 per 1M tokens is 2.5 nano-dollars per 1M: a token costs 0.0000025 nano-dollars.
	p := Price{Match: "tiny", InputPer1M: "0.0000025", OutputPer1M: "0.0000025"}
	for _, tc := range []struct {
		tok  Tokens
		want int64
	}{
		{Tokens{Prompt: 199}, 0},                   // 0.4975 -> 0
		{Tokens{Prompt: 200}, 1},                   // 0.5 -> 1 (half up)
		{Tokens{Prompt: 600}, 2},                   // 1.5 -> 2
		{Tokens{Prompt: 1000}, 3},                  // 2.5 -> 3 (half up, not half even)
		{Tokens{Prompt: 100, Completion: 100}, 1},  // 0.25 + 0.25: the sum is rounded, not each part
		{Tokens{Prompt: 199, Completion: 199}, 1},  // 0.995 -> 1
		{Tokens{Prompt: 1_000_000_000}, 2_500_000}, // large counts stay exact
	} {
		got, err := CostOf(p, tc.tok)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %d, %v; want %d", tc.tok, got, err, tc.want)
		}
	}
}

func TestCostSaturates(t *testing.T) {
	p := Price{Match: "dear", InputPer1M: "1000000", OutputPer1M: "1000000"}
	got, err := CostOf(p, Tokens{Prompt: math.MaxInt, Completion: math.MaxInt})
	if err != nil || got != math.MaxInt64 {
		t.Fatalf("got %d, %v", got, err)
	}
}

func TestUnknownModelWarns(t *testing.T) {
	c := Default().Cost("mystery-9000", Tokens{Prompt: 1000, Completion: 1000})
	if c.Found || c.Nanos != 0 || c.Warning != "no price for model mystery-9000" || c.Price != (Price{}) {
		t.Fatalf("got %+v", c)
	}
	if _, ok := Default().Lookup(""); ok {
		t.Fatal("an empty model has no price")
	}
}

func TestDefaultTableHasTheCommonModels(t *testing.T) {
	want := map[string][3]string{
		"gpt-4o-mini":  {"0.15", "0.075", "0.60"},
		"gpt-4o":       {"2.50", "1.25", "10.00"},
		"gpt-4.1":      {"2.00", "0.50", "8.00"},
		"gpt-4.1-mini": {"0.40", "0.10", "1.60"},
		"gpt-4.1-nano": {"0.10", "0.025", "0.40"},
		"o3-mini":      {"1.10", "0.55", "4.40"},
		"o4-mini":      {"1.10", "0.275", "4.40"},
	}
	for model, w := range want {
		p, ok := Default().Lookup(model)
		if !ok || p.InputPer1M != w[0] || p.CachedInputPer1M != w[1] || p.OutputPer1M != w[2] || p.Free || p.Source != SourceDefault {
			t.Errorf("%s: %+v, %v", model, p, ok)
		}
	}
	for _, model := range []string{"llama3.1:8b", "mistral", "qwen2.5:7b", "gemma2:2b", "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"} {
		p, ok := Default().Lookup(model)
		if !ok || !p.Free {
			t.Errorf("%s should be a free local model: %+v", model, p)
		}
	}
	for _, model := range []string{"gpt-4o-mini-realtime-preview", "gpt-4o-audio", "o3-pro", "claude-3-5-sonnet"} {
		if p, ok := Default().Lookup(model); ok {
			t.Errorf("%s must not borrow another model's price: %+v", model, p)
		}
	}
}

func TestParseUSD(t *testing.T) {
	for in, want := range map[string]int64{
		"0.15": 150_000_000, "10": 10_000_000_000, "10.00": 10_000_000_000, ".5": 500_000_000,
		"0.000000001": 1, " 2.50 ": 2_500_000_000, "0": 0, "1000000": 1_000_000 * NanosPerUSD,
	} {
		got, err := ParseUSD(in)
		if err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "1.", "-1", "+1", "1e-3", "0.0000000001", "1,50", "abc", "1.2.3", "1000000.01", "99999999999999999999"} {
		if got, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) = %d, want an error", in, got)
		}
	}
}

func TestParsePricesValidates(t *testing.T) {
	for name, data := range map[string]string{
		"not an array":     `{"match":"x"}`,
		"unknown field":    `[{"match":"x","input_per_1m":"1","output_per_1m":"1","inptu":"2"}]`,
		"empty match":      `[{"match":" ","input_per_1m":"1","output_per_1m":"1"}]`,
		"bad regex":        `[{"match":"re:(","input_per_1m":"1","output_per_1m":"1"}]`,
		"float price":      `[{"match":"x","input_per_1m":0.15,"output_per_1m":"1"}]`,
		"bad price":        `[{"match":"x","input_per_1m":"1e-3","output_per_1m":"1"}]`,
		"missing output":   `[{"match":"x","input_per_1m":"1"}]`,
		"silent zero":      `[{"match":"x","input_per_1m":"0","output_per_1m":"0"}]`,
		"free but priced":  `[{"match":"x","input_per_1m":"0","output_per_1m":"1","free":true}]`,
		"trailing garbage": `[] []`,
	} {
		if _, err := ParsePrices([]byte(data)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	ps, err := ParsePrices([]byte(`[{"match":"x","input_per_1m":"0","output_per_1m":"0","free":true,"source":"forged"}]`))
	if err != nil || len(ps) != 1 {
		t.Fatal(ps, err)
	}
	tbl, _ := Default().With(SourceSettings, ps)
	if p, _ := tbl.Lookup("x"); p.Source != SourceSettings {
		t.Fatalf("the table sets the source: %+v", p)
	}
}

func TestLayersOverrideAndExtend(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "prices.json")
	os.WriteFile(file, []byte(`[
		{"match": "gpt-4o-mini", "input_per_1m": "0.10", "output_per_1m": "0.50", "note": "negotiated"},
		{"match": "re:^acme-", "input_per_1m": "1", "cached_input_per_1m": "0.5", "output_per_1m": "2"}
	]`), 0o644)
	cfg, err := config.Load(func(k string) string { return map[string]string{"PARLEY_PRICES_FILE": file}[k] })
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := tbl.Lookup("gpt-4o-mini"); p.InputPer1M != "0.10" || p.Source != SourceFile {
		t.Fatalf("the file overrides: %+v", p)
	}
	// The file's exact gpt-4o-mini does not match the dated snapshot: the default regex does.
	if p, _ := tbl.Lookup("gpt-4o-mini-2024-07-18"); p.InputPer1M != "0.15" || p.Source != SourceDefault {
		t.Fatalf("defaults still apply: %+v", p)
	}
	if c := tbl.Cost("acme-large", Tokens{Prompt: 1000, Cached: 500, Completion: 10}); c.Nanos != 500_000+250_000+20_000 || c.Price.Source != SourceFile {
		t.Fatalf("the file extends: %+v", c)
	}
	// Settings come first of all, and leave the table they were layered on unchanged.
	settings, err := tbl.With(SourceSettings, []Price{{Match: "re:^gpt-4o-mini", InputPer1M: "1", OutputPer1M: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := settings.Lookup("gpt-4o-mini"); p.Source != SourceSettings {
		t.Fatalf("a settings regex beats the file's exact entry: %+v", p)
	}
	if p, _ := tbl.Lookup("gpt-4o-mini"); p.Source != SourceFile {
		t.Fatal("With must not change its receiver")
	}
	if es := settings.Entries(); len(es) != len(Default().Entries())+3 || es[0].Source != SourceSettings {
		t.Fatalf("entries %d", len(es))
	}
	if _, err := tbl.With(SourceSettings, []Price{{Match: "x", InputPer1M: "abc", OutputPer1M: "1"}}); err == nil || !strings.Contains(err.Error(), "input_per_1m") {
		t.Fatalf("a bad override names its field: %v", err)
	}
}

func TestLoadFileErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"match":"x","input_per_1m":"0.1.2","output_per_1m":"1"}]`), 0o644)
	for _, path := range []string{filepath.Join(dir, "missing.json"), bad, dir} {
		_, err := LoadFile(path)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "PARLEY_PRICES_FILE" || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v", path, err)
		}
	}
	if tbl, err := LoadFile(""); err != nil || tbl != Default() {
		t.Fatalf("no file: %v", err)
	}
}

func TestValidatePrice(t *testing.T) {
	if err := ValidatePrice(Price{Match: "m", InputPer1M: "1", OutputPer1M: "2"}); err != nil {
		t.Fatal(err)
	}
	if err := ValidatePrice(Price{Match: "m", InputPer1M: "1", CachedInputPer1M: "x", OutputPer1M: "2"}); err == nil || !strings.HasPrefix(err.Error(), "cached_input_per_1m") {
		t.Fatalf("got %v", err)
	}
}
