package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail is the one spelling of an address the store keeps and
// compares: trimmed, lower-cased, in Unicode NFC. The email column compares
// bytes (utf8mb4_bin), not by a collation that would take "ádmin@" for
// "admin@", so every caller (registration, login, its throttle, ADMIN_EMAILS)
// must use this first.
func NormalizeEmail(s string) string {
	return norm.NFC.String(strings.ToLower(strings.TrimSpace(s)))
}

// User is a registered account. Email is stored as NormalizeEmail gives it.
type User struct {
	ID           int64
	Name         string
	Email        string
	PasswordHash []byte // bcrypt
	Created      time.Time
}

// CreateUser inserts a user and returns its id. It returns
// ErrDuplicateEmail if email is taken (the UNIQUE key decides, so two
// registrations racing for one address can't both win).
func (s *Store) CreateUser(ctx context.Context, name, email string, passwordHash []byte) (int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := execWrite(ctx, s.DB,
		"INSERT INTO users (name, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
		name, email, string(passwordHash), s.clock())
	if isDuplicate(err) {
		return 0, ErrDuplicateEmail
	}
	if err != nil {
		return 0, wrap("create user", err)
	}
	noteCommit(ctx) // autocommitted
	id, err := res.LastInsertId()
	return id, wrap("create user", err)
}

// UserByEmail returns the user with that email (see NormalizeEmail), or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.user(ctx, "SELECT id, name, email, password_hash, created_at FROM users WHERE email = ?", email)
}

// UserByID returns the user with that id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return s.user(ctx, "SELECT id, name, email, password_hash, created_at FROM users WHERE id = ?", id)
}

func (s *Store) user(ctx context.Context, q string, arg any) (User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var u User
	var hash string
	var created Time
	err := s.DB.QueryRowContext(ctx, q, arg).Scan(&u.ID, &u.Name, &u.Email, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	u.PasswordHash, u.Created = []byte(hash), created.Time
	return u, wrap("user", err)
}

// Users lists every user by id, without password hashes.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.DB.QueryContext(ctx, "SELECT id, name, email, created_at FROM users ORDER BY id")
	if err != nil {
		return nil, wrap("users", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var u User
		var created Time
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &created); err != nil {
			return nil, wrap("users", err)
		}
		u.Created = created.Time
		us = append(us, u)
	}
	return us, wrap("users", rows.Err())
}
