"""Forms of the people page: inviting a person and changing their role."""

from django import forms

from accounts import people

ROLE_CHOICES = [(name, name) for name in people.ROLE_NAMES]


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=150)
    name = forms.CharField(max_length=150, required=False, help_text="Optional.")
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("", "No role"), *ROLE_CHOICES], required=False)
