package authority

// SetStepHook lets tests interrupt Create after a given staged file.
func (s *Store) SetStepHook(f func(stage string) error) { s.step = f }
