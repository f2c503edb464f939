/** Built-in name and place lists for sample people. All names are invented combinations; phone numbers use 555. */

export const MALE_GIVEN = [
  'James', 'Robert', 'Michael', 'David', 'Daniel', 'Joseph', 'Thomas', 'Christopher', 'Anthony', 'Mark',
  'Steven', 'Andrew', 'Joshua', 'Kevin', 'Brian', 'Ethan', 'Noah', 'Liam', 'Mateo', 'Santiago',
  'Carlos', 'Luis', 'Jamal', 'Darnell', 'Malik', 'Wei', 'Hiroshi', 'Arjun', 'Rahul', 'Omar',
  'Yusuf', 'Ahmed', 'Dmitri', 'Ivan', 'Lars', 'Pierre', 'Giovanni', 'Kwame', 'Tariq', 'Elijah',
] as const;

export const FEMALE_GIVEN = [
  'Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen',
  'Emily', 'Olivia', 'Emma', 'Sophia', 'Ava', 'Isabella', 'Mia', 'Camila', 'Valentina', 'Lucia',
  'Maria', 'Ana', 'Aaliyah', 'Imani', 'Keisha', 'Mei', 'Yuki', 'Priya', 'Ananya', 'Fatima',
  'Aisha', 'Leila', 'Olga', 'Ingrid', 'Chloe', 'Giulia', 'Amara', 'Zara', 'Grace', 'Rose',
] as const;

export const FAMILY = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis', 'Wilson', 'Anderson', 'Taylor',
  'Thomas', 'Moore', 'Martin', 'Jackson', 'Thompson', 'White', 'Harris', 'Clark', 'Lewis', 'Walker',
  'Garcia', 'Martinez', 'Rodriguez', 'Hernandez', 'Lopez', 'Gonzalez', 'Perez', 'Sanchez', 'Ramirez', 'Torres',
  'Nguyen', 'Tran', 'Le', 'Kim', 'Park', 'Lee', 'Chen', 'Wang', 'Li', 'Zhang',
  'Tanaka', 'Sato', 'Patel', 'Shah', 'Singh', 'Kumar', 'Khan', 'Ali', 'Hassan', 'Haddad',
  'Okafor', 'Mensah', 'Adeyemi', 'Ivanova', 'Petrov', 'Kowalski', 'Novak', 'Johansson', 'Larsen', 'Muller',
  'Rossi', 'Bianchi', 'Dubois', 'Laurent', "O'Brien", 'Murphy', 'Kelly', 'MacDonald', 'Cohen', 'Levi',
] as const;

export const STREETS = [
  'Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Pine Rd', 'Washington Blvd', 'Lake Shore Dr',
  'Hillcrest Ave', 'Park Pl', 'Sunset Blvd', 'River Rd', 'Church St', 'Mill Rd', 'Highland Ave', 'Willow Way',
  'Chestnut St', 'Birch Ct', 'Spring St', 'Meadow Ln',
] as const;

/** Real US city/state/ZIP combinations, so addresses look plausible. */
export const PLACES: readonly { city: string; state: string; postalCode: string }[] = [
  { city: 'Boston', state: 'MA', postalCode: '02118' },
  { city: 'Worcester', state: 'MA', postalCode: '01609' },
  { city: 'Springfield', state: 'IL', postalCode: '62701' },
  { city: 'Columbus', state: 'OH', postalCode: '43215' },
  { city: 'Madison', state: 'WI', postalCode: '53703' },
  { city: 'Denver', state: 'CO', postalCode: '80202' },
  { city: 'Austin', state: 'TX', postalCode: '78701' },
  { city: 'Houston', state: 'TX', postalCode: '77002' },
  { city: 'Phoenix', state: 'AZ', postalCode: '85004' },
  { city: 'Seattle', state: 'WA', postalCode: '98101' },
  { city: 'Portland', state: 'OR', postalCode: '97205' },
  { city: 'Salt Lake City', state: 'UT', postalCode: '84111' },
  { city: 'Atlanta', state: 'GA', postalCode: '30303' },
  { city: 'Nashville', state: 'TN', postalCode: '37203' },
  { city: 'Raleigh', state: 'NC', postalCode: '27601' },
  { city: 'Pittsburgh', state: 'PA', postalCode: '15222' },
  { city: 'Baltimore', state: 'MD', postalCode: '21202' },
  { city: 'Minneapolis', state: 'MN', postalCode: '55401' },
  { city: 'Kansas City', state: 'MO', postalCode: '64106' },
  { city: 'Albuquerque', state: 'NM', postalCode: '87102' },
];
