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
	a.redirect(w, r, "/payment/"+strconv.FormatInt(id, 10), fmt.Sprintf("Reserved for %d minutes. Please pay to complete your purchase.", int(store.ReservationTTL.Minutes())))
}

// catalogWithError re-renders the catalog (where the buy forms are) with msg.
func (a *App) catalogWithError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	snap, err := a.catalog.get(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Catalog, d.Error = snap.html, msg
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

func (a *App) paymentForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	if p.Status == store.StatusExpired || p.Status == store.StatusPendingPayment && time.Now().After(p.ReservedUntil()) {
		a.expired(w, r)
		return
	}
	if p.Status != store.StatusPendingPayment {
		a.redirect(w, r, "/delivery/"+strconv.FormatInt(p.ID, 10), "This purchase is already paid.")
		return
	}
	d := a.data(r)
	d.Purchase, d.Methods = p, store.PaymentMethods
	a.render(w, r, http.StatusOK, "payment", d)
}

// pay marks the purchase paid by method, for the amount the purchase
// recorded; any amount field in the form is ignored. Paying twice charges
// once (fault 11).
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
		a.render(w, r, http.StatusUnprocessableEntity, "payment", d)
		return
	}
	next := "/delivery/" + strconv.FormatInt(p.ID, 10)
	switch err := a.store.Pay(r.Context(), p.ID, p.BuyerID, method); {
	case errors.Is(err, store.ErrAlreadyPaid):
		a.redirect(w, r, next, "This purchase was already paid; nothing more was charged.")
	case errors.Is(err, store.ErrExpired):
		a.expired(w, r)
	case errors.Is(err, store.ErrNotFound):
		a.notFound(w, r)
	case err != nil:
		a.serverError(w, r, err)
	default:
		a.redirect(w, r, next, "Paid "+p.Total.In(a.opts.Currency)+" by "+method+". Now choose a delivery provider.")
	}
}

func (a *App) deliveryForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.purchase(w, r)
	if !ok {
		return
	}
	a.showDelivery(w, r, p, newForm(nil), http.StatusOK)
}

// expired answers for a purchase whose reservation ran out unpaid: 409,
// nothing charged, and the way back to the catalog.
func (a *App) expired(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusConflict, fmt.Sprintf(
		"This reservation expired: it was not paid within %d minutes, so its units went back on sale and nothing was charged. You can buy the book again from the catalog.",
		int(store.ReservationTTL.Minutes())))
}

func (a *App) showDelivery(w http.ResponseWriter, r *http.Request, p store.Purchase, f *form, status int) {
	if p.Status == store.StatusExpired {
		a.expired(w, r)
		return
	}
	if p.Status != store.StatusPaid {
		a.redirect(w, r, "/payment/"+strconv.FormatInt(p.ID, 10), "Please pay before choosing a delivery.")
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
	orders := "/orders#order-" + strconv.FormatInt(p.ID, 10)
	switch err := a.store.ChooseDelivery(r.Context(), p.ID, p.BuyerID, provider); {
	case errors.Is(err, store.ErrNotFound):
		f.fail("provider", "Choose one of the delivery providers listed.")
		a.showDelivery(w, r, p, f, http.StatusUnprocessableEntity)
	case errors.Is(err, store.ErrNotPaid):
		a.redirect(w, r, "/payment/"+strconv.FormatInt(p.ID, 10), "Please pay before choosing a delivery.")
	case errors.Is(err, store.ErrDeliveryChosen):
		a.redirect(w, r, orders, "A delivery provider was already chosen for this order.")
	case err != nil:
		a.serverError(w, r, err)
	default:
		a.redirect(w, r, orders, "Delivery arranged. Thank you for your order!")
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
