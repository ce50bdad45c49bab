package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// buy takes quantity units of the book for the signed-in user and sends them
// to pay. Only quantity is read from the form: price and amount come from
// the database (fault 1: the original trusted hidden price fields).
func (a *App) buy(w http.ResponseWriter, r *http.Request) {
	bookID, ok := idParam(r, "book_id")
	if !ok {
		a.notFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := newForm(r.PostForm)
	qty := f.integer("quantity", 1, maxQuantity)
	if !f.Valid() {
		a.catalogWithError(w, r, http.StatusUnprocessableEntity, "Quantity: "+f.Errors.Get("quantity"))
		return
	}
	id, err := a.store.Buy(r.Context(), a.currentUser(r).ID, bookID, qty)
	var oos *store.OutOfStockError
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.notFound(w, r)
		return
	case errors.As(err, &oos):
		msg := "Sorry, that book is out of stock."
		if oos.Available > 0 {
			msg = fmt.Sprintf("Only %d left in stock; you asked for %d.", oos.Available, qty)
		}
		a.catalogWithError(w, r, http.StatusConflict, msg)
		return
	case err != nil:
		a.serverError(w, r, err)
		return
	}
	a.metrics.purchases.Inc()
	a.metrics.units.Add(float64(qty))
	// No flash message: the delivery page says how long the units are
	// reserved, and a flash would cost a session write per purchase.
	a.redirect(w, r, deliveryURL(id), "")
}

// catalogWithError re-renders the catalog's first page (where the buy forms
// are) with msg.
func (a *App) catalogWithError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c, _ := parseCatalog(nil)
	snap, err := a.catalogSnap(r.Context(), c)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Catalog, d.CatalogView, d.Error = snap.html, c.view(snap.page), msg
	a.render(w, r, status, "catalog", d)
}

// purchase loads the signed-in user's purchase named by the URL. Another
// user's purchase is a 404, exactly like one that doesn't exist (fault 3).
func (a *App) purchase(w http.ResponseWriter, r *http.Request) (store.Purchase, bool) {
	id, ok := idParam(r, "purchase_id")
	if !ok {
		a.notFound(w, r)
		return store.Purchase{}, false
	}
	p, err := a.store.Purchase(r.Context(), id, a.currentUser(r).ID)
	if errors.Is(err, store.ErrNotFound) {
		a.notFound(w, r)
		return store.Purchase{}, false
	}
	if err != nil {
		a.serverError(w, r, err)
		return store.Purchase{}, false
	}
	return p, true
}

func deliveryURL(id int64) string { return "/delivery/" + strconv.FormatInt(id, 10) }
func paymentURL(id int64) string  { return "/payment/" + strconv.FormatInt(id, 10) }
func orderURL(id int64) string    { return "/orders#order-" + strconv.FormatInt(id, 10) }

// overdue reports whether p can no longer be paid: marked expired, or past
// its reservation before the sweep got to it.
func overdue(p store.Purchase) bool {
	return p.Status == store.StatusExpired || p.Status == store.StatusPendingPayment && time.Now().After(p.ReservedUntil())
}

// paymentForm shows what paying will charge (items, delivery, total) and
// the payment methods. The flow is buy, delivery, payment: the fee is part
// of the amount due, so a purchase without a delivery is sent to choose
// one first (303 to /delivery/{id}); the URL stays valid for links and
// bookmarks from before. A paid purchase goes to its order.
func (a *App) paymentForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	if !a.payable(w, r, p) {
		return
	}
	d := a.data(r)
	d.Purchase, d.Methods = p, store.PaymentMethods
	a.render(w, r, http.StatusOK, "payment", d)
}

// payable reports whether p can be paid now; if not, it has answered:
// expired, already paid (to the order, or to choose the delivery of a
// purchase paid before fees were charged), or no delivery chosen yet.
func (a *App) payable(w http.ResponseWriter, r *http.Request, p store.Purchase) bool {
	switch {
	case overdue(p):
		a.expired(w, r)
	case p.Status != store.StatusPendingPayment && p.ProviderID == 0:
		a.redirect(w, r, deliveryURL(p.ID), "This purchase is already paid; choose its delivery.")
	case p.Status != store.StatusPendingPayment:
		a.redirect(w, r, orderURL(p.ID), "This purchase is already paid; nothing more was charged.")
	case p.ProviderID == 0:
		a.redirect(w, r, deliveryURL(p.ID), "Choose a delivery first: its fee is part of the amount due.")
	default:
		return true
	}
	return false
}

// pay marks the purchase paid by method. The store computes the amount
// (items plus the chosen delivery's fee) from the database; any amount
// field in the form is ignored (fault 1). Paying twice charges once
// (fault 11).
func (a *App) pay(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := a.data(r)
	f := newForm(r.PostForm)
	d.Form, d.Purchase, d.Methods = f, p, store.PaymentMethods
	method := f.oneOf("method", store.PaymentMethods)
	if !f.Valid() {
		if a.payable(w, r, p) {
			a.render(w, r, http.StatusUnprocessableEntity, "payment", d)
		}
		return
	}
	switch err := a.store.Pay(r.Context(), p.ID, p.BuyerID, method); {
	case errors.Is(err, store.ErrAlreadyPaid):
		a.redirect(w, r, orderURL(p.ID), "This purchase was already paid; nothing more was charged.")
	case errors.Is(err, store.ErrExpired):
		a.expired(w, r)
	case errors.Is(err, store.ErrNoDelivery):
		a.redirect(w, r, deliveryURL(p.ID), "Choose a delivery first: its fee is part of the amount due. Nothing was charged.")
	case errors.Is(err, store.ErrNotFound):
		a.notFound(w, r)
	case err != nil:
		a.serverError(w, r, err)
	default:
		a.redirect(w, r, orderURL(p.ID), fmt.Sprintf("Paid %s by %s, delivery by %s included. Thank you for your order!",
			p.Due().In(a.opts.Currency), method, p.Provider))
	}
}

func (a *App) deliveryForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	f := newForm(nil)
	if p.ProviderID != 0 {
		f.Set("provider", strconv.FormatInt(p.ProviderID, 10))
	}
	a.showDelivery(w, r, p, f, http.StatusOK)
}

// expired answers for a purchase whose reservation ran out unpaid: 409,
// nothing charged, and the way back to the catalog.
func (a *App) expired(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusConflict, fmt.Sprintf(
		"This reservation expired: it was not paid within %d minutes, so its units went back on sale and nothing was charged. You can buy the book again from the catalog.",
		int(store.ReservationTTL.Minutes())))
}

// showDelivery shows the providers to choose from: for a purchase pending
// payment (the choice can change until it is paid), or one paid before
// delivery was charged that has none yet. Anything else has nothing to
// choose.
func (a *App) showDelivery(w http.ResponseWriter, r *http.Request, p store.Purchase, f *form, status int) {
	if overdue(p) {
		a.expired(w, r)
		return
	}
	if p.Status != store.StatusPendingPayment && p.ProviderID != 0 {
		a.redirect(w, r, orderURL(p.ID), "This order is paid; its delivery can no longer change.")
		return
	}
	providers, err := a.store.Providers(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Form, d.Purchase, d.Providers = f, p, providers
	a.render(w, r, status, "delivery", d)
}

// chooseDelivery records the provider chosen and sends a purchase pending
// payment on to pay (the fee is now in its amount due).
func (a *App) chooseDelivery(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := newForm(r.PostForm)
	provider, err := strconv.ParseInt(f.Get("provider"), 10, 64)
	if err != nil || provider <= 0 {
		f.fail("provider", "Choose a delivery provider.")
		a.showDelivery(w, r, p, f, http.StatusUnprocessableEntity)
		return
	}
	switch err := a.store.ChooseDelivery(r.Context(), p.ID, p.BuyerID, provider); {
	case errors.Is(err, store.ErrNotFound):
		f.fail("provider", "Choose one of the delivery providers listed.")
		a.showDelivery(w, r, p, f, http.StatusUnprocessableEntity)
	case errors.Is(err, store.ErrExpired):
		a.expired(w, r)
	case errors.Is(err, store.ErrDeliveryChosen):
		a.redirect(w, r, orderURL(p.ID), "This order is paid; its delivery can no longer change.")
	case err != nil:
		a.serverError(w, r, err)
	case p.Status == store.StatusPendingPayment:
		a.redirect(w, r, paymentURL(p.ID), "")
	default:
		a.redirect(w, r, orderURL(p.ID), "Delivery arranged, at no charge. Thank you for your order!")
	}
}

func (a *App) orders(w http.ResponseWriter, r *http.Request) {
	orders, err := a.store.Orders(r.Context(), a.currentUser(r).ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Orders = orders
	a.render(w, r, http.StatusOK, "orders", d)
}
