"""English in the house style: day before month, 24-hour clock ("1 Dec 2026, 00:41"), not
Django's US default ("Dec. 1, 2026, 12:41 a.m."). Input formats stay Django's."""
DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
