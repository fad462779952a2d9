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
profile-older = Older updates
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
update-replies = Replies
update-no-replies = No replies yet. Reply from your own fediverse account to join in.

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
admin-operator-hint = Users and API tokens are managed from the command line and the operator API.
admin-security = Security
admin-role = { $role }

org-admin-title = Manage { $name }
org-admin-profile = Profile
org-admin-updates = Updates
org-admin-followers = Followers
org-admin-inbox = Replies and mentions
org-admin-view-public = View the public page
org-admin-forbidden = You have no role in this organisation.
profile-form-title = Edit the profile
profile-form-name = Name
profile-form-summary = What you know about, in a few sentences
profile-form-reach = Who may list this organisation
reach-none = Nobody: not in any directory
reach-home = This instance's directory only
reach-network = This instance and its peers
reach-public = Everywhere, Mastodon's directory too
profile-form-kinds = Kind of organisation
profile-form-themes = Themes you know about
profile-form-own-themes = Your own themes (one word each, separated by ;)
profile-form-places = Places you serve (ISO 3166 codes such as GB-MAN, or names, separated by ;)
profile-form-ways = Ways of working
profile-form-offers = What partners may ask you for
profile-form-communities = Communities you work with
profile-form-languages = Languages (codes such as en; cy; pl)
profile-form-website = Website (https)
profile-form-contact = Partnership email
profile-form-founded = Year founded
pictures-title = Avatar and header
pictures-avatar = New avatar (cropped to a 400 by 400 square)
pictures-header = New header (cropped to 1500 by 500)
pictures-current-avatar = Current avatar
pictures-current-header = Current header
pictures-remove = Remove
pictures-hint = JPEG, PNG, WebP or GIF, up to 8 MiB. Location data and other metadata are removed.
pictures-save = Save pictures
profile-form-details = Profile details
profile-form-save = Save the profile
profile-form-saved = The profile is saved, and your followers have been sent the new version.
profile-form-errors = The profile was not saved. Please correct these fields:
profile-preview = How Mastodon will show it
updates-new = Write an update
updates-text = Text (links and #hashtags are made for you)
updates-language = Language
updates-attachments = Pictures and documents (optional, up to four)
updates-attachments-hint = JPEG, PNG, WebP or GIF pictures up to 8 MiB, PDF documents up to 16 MiB. Every picture needs alt text: describe it for people who cannot see it. Location data and other metadata are removed from pictures. If the update is refused, choose the files again.
updates-file = File { $n }
updates-alt = Alt text for file { $n }
updates-publish = Publish
updates-published = Published and sent to your followers.
updates-delete = Delete
updates-none = No updates yet.
followers-pending = Waiting for approval
followers-accepted = Followers
followers-approve = Approve
followers-reject = Refuse
followers-none = None.
inbox-none = No replies or mentions yet.
inbox-reason = { $reason ->
    [reply] Reply
    [mention] Mention
   *[other] From an account you follow
}

follow-title = Follow from your fediverse server
follow-your-handle = Your handle, such as you@mastodon.social
follow-go = Follow
follow-copy = Or search for { $acct } on your server.
follow-no-template = Your server did not say where its follow page is. Search for { $acct } on your server instead.
follow-bad-handle = Type your handle as you@your.server.
feed-title = Updates from { $name }
tag-title = #{ $tag }
tag-organisations = Organisations that know about it
tag-updates = Updates
tag-none = Nothing yet.

join-title = Join this instance
join-intro = Ask the operator to host your organisation here. You will get an email (or the operator will pass on a link) to set your password.
join-name = Organisation name
join-handle = Handle you would like (a-z, 0-9 and _; your address will be @handle@{ $domain })
join-email = Your email
join-message = A few words for the operator
join-submit = Ask to join
join-sent = Thank you. The operator will answer soon.
join-errors = The request was not sent. Please correct these fields:
joins-title = Join requests
joins-none = No requests waiting.
joins-approve = Approve
joins-decline = Decline
joins-approved = Approved: @{ $handle } exists and { $email } is its owner.
joins-link = Pass this one-time sign-in link to them (no mail is set up):
joins-declined = Declined.
nav-join = Join

setup-title = Set up this instance
setup-intro = Create the first operator account. This link works once.
setup-done = The operator account is ready. Sign in to continue.
setup-used = This instance is already set up. Sign in instead.
neworg-title = Create an organisation
neworg-handle = Handle (a-z, 0-9 and _)
neworg-name = Name
neworg-submit = Create

op-title = Operator
op-peers = Directory peers
op-peer-add = Ask an instance to peer (domain)
op-peer-add-submit = Ask
op-peer-approve = Accept
op-peer-remove = End peering
op-peer-state = we follow: { $out } · they follow: { $in }
op-blocks = Blocked domains
op-block-add = Block a domain
op-block-reason = Reason
op-block-submit = Block
op-unblock = Unblock
op-reports = Reports
op-report-resolve = Mark resolved
op-queue = Delivery queue
op-queue-figures = { $pending } deliveries pending · { $failing } instances failing · { $dead } dead
op-settings = Instance settings
op-none = None.
op-done = Done.
updates-warning = Content warning (optional: shown before the text, which stays folded)
updates-edit = Edit
updates-edit-title = Edit the update
updates-save = Save and send the edit
updates-saved = Saved. Your followers have been sent the edit.
home-chart-themes = What organisations here know about
home-chart-places = Where they work
