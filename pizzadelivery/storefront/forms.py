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
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, required=False)


POINT_INVALID = _("The point on the map is not valid; choose it again.")


class CheckoutForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=120,
                           widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": "Ada Lovelace"}))
    # phonenumbers parses it (a national number in settings.PHONENUMBER_DEFAULT_REGION).
    phone = PhoneNumberField(label="Phone", max_length=32, help_text="Your driver calls if they can't find you.",
                             error_messages={"invalid": "Enter a phone number, e.g. +49 30 1234567."},
                             widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel",
                                                           "placeholder": "+49 30 1234567"}))
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False,
                             help_text=_("We write when your order is confirmed, on its way, nearly there and "
                                         "delivered."),
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "ada@example.com"}))
    address = forms.CharField(label="Street and house number", max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address",
                                                            "placeholder": "Torstraße 1"}))
    district = forms.ChoiceField(label="District", choices=[("", "Choose your district…")] +
                                 [(district.slug, district.name) for district in DISTRICTS])
    # The point the customer chose ("Use my location", or the pin dragged on the map): when
    # given, it is where the driver goes, and the address text is what the driver reads.
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput,
                           error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), POINT_INVALID))
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput,
                           error_messages=dict.fromkeys(("invalid", "min_value", "max_value"), POINT_INVALID))
    notes = forms.CharField(label="Notes for the driver", max_length=300, required=False,
                            widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Floor, door bell, courtyard…"}))

    def clean_name(self) -> str:
        try:
            name = clean_person_name(self.cleaned_data["name"])
        except ValueError:
            name = ""
        if len(name) < 2:
            raise forms.ValidationError("Tell us who the pizza is for.")
        return name

    def clean_phone(self) -> str:
        """E.164: whatever digits and spacing were typed, one spelling is stored."""
        return self.cleaned_data["phone"].as_e164

    def clean_address(self) -> str:
        address = " ".join(self.cleaned_data["address"].split())
        if not any(char.isdigit() for char in address) or not any(char.isalpha() for char in address):
            raise forms.ValidationError("Enter the street and the house number, e.g. Torstraße 1.")
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

    def place(self) -> Place:
        """Where the address is, from the geocoder (``pizzadelivery.geocoding``)."""
        return self.cleaned_data["place"]
