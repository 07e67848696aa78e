-- Preview data of the example shop, exported from the in-browser database (sql.js) as a SQLite dump.
-- Values are in Prisma's SQLite representation: DateTime as milliseconds since the epoch (a few as
-- ISO 8601 text, as Prisma's libSQL adapter writes them), Boolean as 0/1, Json as text.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE "Category" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "parentId" INTEGER,
    CONSTRAINT "Category_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Category" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "Category" VALUES(1,'Apparel',NULL);
INSERT INTO "Category" VALUES(2,'Shirts',1);
INSERT INTO "Category" VALUES(3,'Mugs',NULL);
INSERT INTO "Category" VALUES(4,'Hoodies',1);
INSERT INTO "Category" VALUES(5,'Limited editions',2);
CREATE TABLE "Order" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "placedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "shippedAt" DATETIME,
    "totalCents" BIGINT NOT NULL,
    CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "Order" VALUES('clw0order000001abcd',2,'SHIPPED',1714572000000,'2024-05-03T10:15:00.000Z',4498);
INSERT INTO "Order" VALUES('clw0order000002abcd',2,'PAID',1714658400000,NULL,1250);
INSERT INTO "Order" VALUES('clw0order000003abcd',3,'PENDING',1714662000000,NULL,4999);
INSERT INTO "Order" VALUES('clw0order000004abcd',4,'SHIPPED',1714665600000,1714766400000,5000000000);
INSERT INTO "Order" VALUES('clw0order000005abcd',5,'CANCELLED',1714669200000,NULL,0);
INSERT INTO "Order" VALUES('clw0order000006abcd',1,'PAID',1714672800999,NULL,8998);
CREATE TABLE "OrderItem" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "orderId" TEXT NOT NULL,
    "productId" INTEGER NOT NULL,
    "quantity" INTEGER NOT NULL DEFAULT 1,
    "unitPrice" DECIMAL NOT NULL,
    CONSTRAINT "OrderItem_orderId_fkey" FOREIGN KEY ("orderId") REFERENCES "Order" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "OrderItem_productId_fkey" FOREIGN KEY ("productId") REFERENCES "Product" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "OrderItem" VALUES(1,'clw0order000001abcd',1,1,19.99);
INSERT INTO "OrderItem" VALUES(2,'clw0order000001abcd',2,1,24.99);
INSERT INTO "OrderItem" VALUES(3,'clw0order000002abcd',3,1,12.5);
INSERT INTO "OrderItem" VALUES(4,'clw0order000003abcd',5,1,49.99);
INSERT INTO "OrderItem" VALUES(5,'clw0order000004abcd',7,2,25);
INSERT INTO "OrderItem" VALUES(6,'clw0order000004abcd',8,10,4.99);
INSERT INTO "OrderItem" VALUES(7,'clw0order000005abcd',4,1,21);
INSERT INTO "OrderItem" VALUES(8,'clw0order000006abcd',6,1,39.99);
INSERT INTO "OrderItem" VALUES(9,'clw0order000006abcd',1,2,19.99);
INSERT INTO "OrderItem" VALUES(10,'clw0order000006abcd',3,1,12.5);
INSERT INTO "OrderItem" VALUES(11,'clw0order000003abcd',8,3,4.99);
INSERT INTO "OrderItem" VALUES(12,'clw0order000002abcd',8,1,4.99);
CREATE TABLE "Product" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sku" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "inStock" BOOLEAN NOT NULL DEFAULT true,
    "attributes" JSONB,
    "thumbnail" BLOB,
    "categoryId" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Product_categoryId_fkey" FOREIGN KEY ("categoryId") REFERENCES "Category" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "Product" VALUES(1,'TEE-001','Classic tee',1999,1,'{"sizes":["S","M","L"],"color":"navy"}',NULL,2,1714550400000,1714568400000);
INSERT INTO "Product" VALUES(2,'TEE-002','Vintage tee ✓',2499,1,'{"sizes":["M"],"organic":true}',X'89504E470D0A1A0A0001',2,1714550400000,'2024-05-02T09:30:00.000Z');
INSERT INTO "Product" VALUES(3,'MUG-001','Coffee mug',1250,1,'{"volume_ml":350}',NULL,3,1714554000000,1714554000000);
INSERT INTO "Product" VALUES(4,'MUG-002','Travel mug',2100,0,NULL,NULL,3,1714554000000,1714557600000);
INSERT INTO "Product" VALUES(5,'HOOD-001','Zip hoodie',4999,1,'{"sizes":["L","XL"],"note":"it''s warm"}',NULL,4,1714557600000,1714557600000);
INSERT INTO "Product" VALUES(6,'LTD-001','Launch edition tee',3999,0,42,NULL,5,1714561200000,1714561200000);
INSERT INTO "Product" VALUES(7,'GIFT-001','Gift card',5000,1,'[]',NULL,NULL,1714561200000,1714561200000);
INSERT INTO "Product" VALUES(8,'STK-001','Sticker pack',499,1,'null',NULL,NULL,1714564800000,1714564800000);
CREATE TABLE "Tag" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "label" TEXT NOT NULL
);
INSERT INTO "Tag" VALUES(1,'new');
INSERT INTO "Tag" VALUES(2,'sale');
INSERT INTO "Tag" VALUES(3,'eco');
INSERT INTO "Tag" VALUES(4,'gift');
CREATE TABLE "User" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "role" TEXT NOT NULL DEFAULT 'CUSTOMER',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "User" VALUES(1,'ada@example.com','Ada Lovelace','ADMIN',1714550400000);
INSERT INTO "User" VALUES(2,'grace@example.com','Grace Hopper','CUSTOMER',1714554000000);
INSERT INTO "User" VALUES(3,'linus@example.com',NULL,'CUSTOMER',1714557600000);
INSERT INTO "User" VALUES(4,'margaret@example.com','Margaret Hamilton','CUSTOMER',1714561200123);
INSERT INTO "User" VALUES(5,'tim@example.com','Tim O''Reilly','CUSTOMER',1714564800000);
CREATE TABLE "_ProductToTag" (
    "A" INTEGER NOT NULL,
    "B" INTEGER NOT NULL,
    CONSTRAINT "_ProductToTag_A_fkey" FOREIGN KEY ("A") REFERENCES "Product" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "_ProductToTag_B_fkey" FOREIGN KEY ("B") REFERENCES "Tag" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "_ProductToTag" VALUES(1,1);
INSERT INTO "_ProductToTag" VALUES(2,2);
INSERT INTO "_ProductToTag" VALUES(2,3);
INSERT INTO "_ProductToTag" VALUES(3,1);
INSERT INTO "_ProductToTag" VALUES(5,1);
INSERT INTO "_ProductToTag" VALUES(6,2);
INSERT INTO "_ProductToTag" VALUES(7,4);
INSERT INTO "_ProductToTag" VALUES(8,4);
CREATE TABLE "reviews" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "productId" INTEGER NOT NULL,
    "userId" INTEGER,
    "rating" INTEGER NOT NULL,
    "body" TEXT,
    "verified" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "reviews_productId_fkey" FOREIGN KEY ("productId") REFERENCES "Product" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "reviews_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e01',1,2,5,'Soft and fits well.',1,1714730400000);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e02',1,3,4,NULL,0,1714734000000);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e03',3,2,3,'Handle''s a bit small',1,1714737600000);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e04',5,3,5,'Très chaud 🔥',0,1714741200000);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e05',7,NULL,4,'Bought as a gift (guest review)',0,1714744800000);
INSERT INTO "reviews" VALUES('0b6f8f9e-5d7c-4d3e-9a61-1f2b3c4d5e06',6,4,2,'Line one
line two',1,1714748400000);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "Category_name_key" ON "Category"("name");
CREATE UNIQUE INDEX "Product_sku_key" ON "Product"("sku");
CREATE INDEX "Product_categoryId_price_cents_idx" ON "Product"("categoryId", "price_cents");
CREATE UNIQUE INDEX "Tag_label_key" ON "Tag"("label");
CREATE INDEX "Order_userId_placedAt_idx" ON "Order"("userId", "placedAt");
CREATE UNIQUE INDEX "OrderItem_orderId_productId_key" ON "OrderItem"("orderId", "productId");
CREATE UNIQUE INDEX "reviews_productId_userId_key" ON "reviews"("productId", "userId");
CREATE UNIQUE INDEX "_ProductToTag_AB_unique" ON "_ProductToTag"("A", "B");
CREATE INDEX "_ProductToTag_B_index" ON "_ProductToTag"("B");
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('User',5);
INSERT INTO "sqlite_sequence" VALUES('Category',5);
INSERT INTO "sqlite_sequence" VALUES('Product',8);
INSERT INTO "sqlite_sequence" VALUES('Tag',4);
INSERT INTO "sqlite_sequence" VALUES('OrderItem',12);
COMMIT;
