package pullmonitor

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// pull removes the image if the runtime has it, so the pull really fetches
// it, then pulls it and confirms the runtime lists it. It returns the
// runtime's reference to the pulled image and the time the pull took.
func (m *Monitor) pull(ctx context.Context) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, m.PullTimeout)
	defer cancel()
	spec := &runtimeapi.ImageSpec{Image: m.Image}
	st, err := m.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		return "", 0, fmt.Errorf("inspecting the image: %w", err)
	}
	if st.GetImage() != nil {
		if _, err := m.images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: spec}); err != nil {
			return "", 0, fmt.Errorf("removing the copy of the last cycle: %w", err)
		}
	}
	start := time.Now()
	resp, err := m.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec})
	took := time.Since(start)
	if err != nil {
		return "", 0, fmt.Errorf("pulling: %w", err)
	}
	st, err = m.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec})
	if err != nil {
		return "", 0, fmt.Errorf("inspecting the pulled image: %w", err)
	}
	if st.GetImage() == nil {
		return "", 0, fmt.Errorf("the pull succeeded but the runtime does not list the image")
	}
	return resp.GetImageRef(), took, nil
}
