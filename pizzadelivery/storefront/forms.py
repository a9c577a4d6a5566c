"""Storefront forms: cart lines and checkout. Forms validate input; they never save."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from pizzadelivery.geocoding import DISTRICTS, DISTRICTS_BY_SLUG, GeocoderUnavailable, Place, geocoder, in_service_area
from pizzadelivery.infra.fields import clean_person_name
from pizzadelivery.services import MAX_QUANTITY


class CartLineForm(forms.Form):
    item = forms.IntegerField(min_value=1)
    # Past MAX_QUANTITY is understood (the cart refuses it with its own message); the bound
    # here only keeps absurd numbers out.
    quantity = forms.IntegerField(min_value=0, max_value=10 * MAX_QUANTITY, required=False)


POINT_INVALID = _("The point on the map is not valid; choose it again.")


class CheckoutForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=120,
                           widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": "Ada Lovelace"}))
    # phonenumbers parses it (a national number in settings.PHONENUMBER_DEFAULT_REGION).
    phone = PhoneNumberField(label=_("Phone"), max_length=32, help_text=_("Your driver calls if they can’t find you."),
                             error_messages={"invalid": _("Enter a phone number, e.g. +49 30 1234567.")},
                             widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel",
                                                           "placeholder": "+49 30 1234567"}))
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False,
                             help_text=_("We write when your order is confirmed, on its way, nearly there and "
                                         "delivered."),
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "ada@example.com"}))
    address = forms.CharField(label=_("Street and house number"), max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address",
                                                            "placeholder": "Torstraße 1"}))
    district = forms.ChoiceField(label=_("District"), choices=[("", _("Choose your district…"))] +
                                 [(district.slug, district.name) for district in DISTRICTS])
    # The point the customer chose ("Use my location", or the pin dragged on the map): when
    # given, it is where the driver goes, and the address text is what the driver reads.
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput,
                           error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), POINT_INVALID))
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput,
                           error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), POINT_INVALID))
    notes = forms.CharField(label=_("Notes for the driver"), max_length=300, required=False,
                            widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Floor, door bell, courtyard…")}))

    def clean_name(self) -> str:
        try:
            name = clean_person_name(self.cleaned_data["name"])
        except ValueError:
            name = ""
        if len(name) < 2:
            raise forms.ValidationError(_("Tell us who the pizza is for."))
        return name

    def clean_phone(self) -> str:
        """E.164: whatever digits and spacing were typed, one spelling is stored."""
        return self.cleaned_data["phone"].as_e164

    def clean_address(self) -> str:
        address = " ".join(self.cleaned_data["address"].split())
        if not any(char.isdigit() for char in address) or not any(char.isalpha() for char in address):
            raise forms.ValidationError(_("Enter the street and the house number, e.g. Torstraße 1."))
        return address

    def clean(self) -> dict:
        cleaned = super().clean()
        if "address" not in cleaned or "district" not in cleaned:
            return cleaned
        district = DISTRICTS_BY_SLUG[cleaned["district"]]
        lat, lng = cleaned.get("lat"), cleaned.get("lng")
        if lat is not None and lng is not None:
            if not in_service_area(lat, lng):
                self.add_error(None, _("The point you chose is outside the area we deliver to (Berlin)."))
            else:
                cleaned["place"] = Place(round(lat, 6), round(lng, 6), f"{cleaned['address']}, {district.name}")
            return cleaned
        if (lat is None) != (lng is None):
            self.add_error(None, _("The point on the map was incomplete; choose it again."))
            return cleaned
        try:
            place = geocoder().geocode(cleaned["address"], district=cleaned["district"])
        except GeocoderUnavailable:
            self.add_error(None, _("Looking up addresses does not work right now; please try again in a minute, "
                                   "or use your location."))
            return cleaned
        if place is None:
            self.add_error("address", _("We could not find “%(address)s” in %(district)s. Check the street, the "
                                        "house number and the district.") % {"address": cleaned["address"],
                                                                               "district": district.name})
        else:
            cleaned["place"] = place
        return cleaned

    def focus_first_error(self) -> None:
        """After a refused checkout the keyboard goes where the problem is: the error summary
        when there is one (the template marks it), else the first invalid field (``autofocus``,
        which htmx honours in swapped content, and the browser on a whole page)."""
        if self.errors and not self.non_field_errors():
            first = next((name for name in self.fields
                          if name in self.errors and not self.fields[name].widget.is_hidden), None)
            if first is not None:  # else the point's error is in the summary, which takes the focus
                self.fields[first].widget.attrs["autofocus"] = True

    def place(self) -> Place:
        """Where the address is, from the geocoder (``pizzadelivery.geocoding``)."""
        return self.cleaned_data["place"]
