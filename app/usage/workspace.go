package usage

import "github.com/parleyhq/parley/app/model"

// WorkspacePrices returns base with the workspace's Settings prices on top. A workspace
// without overrides gets base itself.
func WorkspacePrices(base *Table, st model.Settings) (*Table, error) {
	prices, err := SettingsPrices(st)
	if err != nil || len(prices) == 0 {
		return base, err
	}
	return base.With(SourceSettings, prices)
}

// SettingsPrices parses and validates the workspace's own price entries.
func SettingsPrices(st model.Settings) ([]Price, error) {
	if len(st.Prices) == 0 {
		return nil, nil
	}
	return ParsePrices(st.Prices)
}
