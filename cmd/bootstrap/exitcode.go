package main

// exitCode maps an error to the documented exit codes in one place.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	return 2
}
