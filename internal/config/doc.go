package config

//go:generate go run ../../cmd/spire config schema -o ../../schema/setup.schema.json
