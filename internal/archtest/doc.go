// Package archtest holds no code, only a test that keeps spoor's package
// graph the shape ARCHITECTURE.md draws: imports flow one way (chain adapters
// → model ← store; analytics on model + store; cli on everything), the
// storage engine never leaks past its backend, and GPL code (go-ethereum)
// never reaches the shipped binary.
package archtest
