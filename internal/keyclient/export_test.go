package keyclient

// SetReturnMemory replaces what Run calls to give memory back, for a test
// to count the calls; the returned function restores it.
func SetReturnMemory(f func()) (restore func()) {
	old := returnMemory
	returnMemory = f
	return func() { returnMemory = old }
}
