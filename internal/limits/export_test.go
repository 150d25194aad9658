package limits

// RunChaosLeak runs the chaos leak test with a Fleet (fleet_leak_test.go,
// an external test package, which may import package fleet).
var RunChaosLeak = runChaosLeak
