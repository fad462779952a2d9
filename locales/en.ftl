# Understory's pages, English. Every user-facing string of the web interface lives here.

site-name = Understory
site-tagline = Understory · expertise profiles of civil-society organisations
nav-home = Home
nav-directory = Directory
nav-sign-in = Sign in
nav-admin = Admin
skip-to-content = Skip to content

home-intro = This Understory instance publishes the expertise of civil-society organisations. Follow any of them from Mastodon or another fediverse server.
home-organisations = Organisations
home-empty = No organisations yet. An operator can create one with { $command }.
home-search-label = Search organisations by what they know, where and how they work

profile-followers = { $count ->
    [one] 1 follower.
   *[other] { $count } followers.
}
profile-follow-hint = To follow, search for { $acct } on your fediverse server.
profile-updates = Updates
profile-no-updates = No updates yet.
profile-moved = This organisation has moved to
section-kind = Kind
section-themes = Knows about
section-communities = Works with
section-places = Places
section-ways = How we work
section-offers = Open to
section-languages = Languages
section-registered = Registered
section-contact = Contact
section-networks = Networks
section-about = About

update-from = Update from { $name }
update-counts = { $likes } likes · { $shares } boosts
update-deleted = This update was deleted.

directory-title = Directory
directory-search = Search
directory-total = { $count ->
    [one] 1 organisation
   *[other] { $count } organisations
}
directory-match = match
directory-clear = clear all filters
directory-empty = No organisation matches. Try fewer words or remove a filter.
directory-another-instance = (another instance)
directory-themes = Themes:
directory-places = Places:
directory-next = Next page
directory-open-data = Open data:
facet-theme = Themes
facet-place = Places
facet-kind = Kind of organisation
facet-way = Ways of working
facet-offer = Open to
facet-language = Languages
facet-community = Communities served
facet-instance = Instance

password-title = Choose your password
password-done = Your password for { $email } is set. This link no longer works.
password-expired = This link has expired or has already been used. Ask your operator for a new one.
password-new = New password (at least { $min } characters)
password-again = The same password again
password-submit = Set password
password-differ = The two passwords differ. Type the same password twice.

login-title = Sign in
login-email = Email
login-password = Password
login-code = Two-factor code (if you have set one up)
login-submit = Sign in
login-failed = The email, password or code is wrong.
login-too-many = Too many attempts. Try again in { $minutes } minutes.
login-csrf = The form expired. Please try again.
logout = Sign out
logout-everywhere = Sign out everywhere
logout-done = You are signed out.

totp-title = Two-factor sign-in
totp-required = Operators must use a second factor. Add this account to an authenticator app, then type the code it shows.
totp-optional = Add this account to an authenticator app, then type the code it shows.
totp-secret = Secret key:
totp-uri = Or open this link on the device with your authenticator:
totp-code = Six-digit code
totp-confirm = Turn on two-factor sign-in
totp-wrong = That code is not right. Check the time on your device and try again.
totp-enabled = Two-factor sign-in is on.

admin-title = Admin
admin-signed-in-as = Signed in as { $email }
admin-your-orgs = Your organisations
admin-no-orgs = You have no role in an organisation yet.
admin-operator = Operator
admin-operator-hint = Operator tasks (peers, domain blocks, reports, users) are in the command line and the operator API for now.
admin-security = Security
admin-role = { $role }
