//go:build !go1.20

// The real file of Go 1.22.12: a bootstrap toolchain older than Go 1.20.6
// fails to compile this package name, which is the error message.
package building_Go_requires_Go_1_20_6_or_later
