package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider"
)

// failure turns a client or store error into the CLI's error: an argument
// the client refused is a usage error (exit 2); the others name the
// operation and the instance (exit 1).
func failure(op, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrInvalidInput):
		return usagef("%v", err)
	case errors.Is(err, provider.ErrInstanceNotFound):
		return fmt.Errorf("instance %q not found", id)
	case errors.Is(err, provider.ErrInstanceRunning):
		return fmt.Errorf("%s %q: the instance is still running (cancel it first, or pass --force)", op, id)
	case errors.Is(err, client.ErrManagementNotAvailable):
		return fmt.Errorf("%s: this store does not support management calls", op)
	case id == "":
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %q: %w", op, id, err)
}

// requireInstance returns the status of an instance the store holds, or an
// error naming the missing instance.
func requireInstance(ctx context.Context, c *client.Client, id string) (*client.Status, error) {
	st, err := c.GetStatus(ctx, id)
	if err != nil {
		return nil, failure("read", id, err)
	}
	if st.State == client.StateNotFound {
		return nil, fmt.Errorf("instance %q not found", id)
	}
	return st, nil
}
