package usage

import (
	"encoding/json"
	"fmt"
)

// WorkspacePrices returns base with the workspace's Settings prices (the "prices" list of the
// workspace settings JSON) on top. A workspace without overrides gets base itself.
func WorkspacePrices(base *Table, settingsJSON string) (*Table, error) {
	prices, err := SettingsPrices(settingsJSON)
	if err != nil || len(prices) == 0 {
		return base, err
	}
	return base.With(SourceSettings, prices)
}

// SettingsPrices reads the "prices" list of a workspace settings JSON document.
func SettingsPrices(settingsJSON string) ([]Price, error) {
	var st struct {
		Prices json.RawMessage `json:"prices"`
	}
	if settingsJSON == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(settingsJSON), &st); err != nil {
		return nil, fmt.Errorf("workspace settings: %w", err)
	}
	if len(st.Prices) == 0 || string(st.Prices) == "null" {
		return nil, nil
	}
	return ParsePrices(st.Prices)
}
